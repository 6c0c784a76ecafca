"""The figures of `noodle ale status` and `report`, and the self-contained HTML page.

Time saved by a candidate = the calls it served x (the original's mean time per call at that
pattern - the candidate's mean time per call), both from the usage log (the candidate's calls are
the rows with `via` = its id).  The page is one file: inline CSS and SVG charts, no scripts, no
fetches.
"""
from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noodle.ale.registry import STATES, Registry
from noodle.vm.pyffi.kinds import generalise


@dataclass
class Summary:
    db: str
    runs: int
    calls: int
    hot: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    states: dict[str, int]
    time_saved_s: float
    audit: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summary(db_path: "str | os.PathLike[str]", hot_limit: int = 15) -> Summary:
    with Registry(db_path) as reg:
        runs = reg.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        calls = reg.conn.execute("SELECT COALESCE(SUM(calls), 0) FROM calls").fetchone()[0]
        hot = reg.hot_calls(limit=1000)
        served = reg.served_calls()
        original_mean: dict[tuple[str, str], tuple[float, int]] = {}
        for h in hot:
            key = (h["name"], generalise(h["signature"]))
            mean, n = original_mean.get(key, (0.0, 0))
            original_mean[key] = ((mean * n + h["mean_ns"] * h["calls"]) / (n + h["calls"]) if n + h["calls"] else 0.0,
                                  n + h["calls"])
        cands = []
        saved_total = 0.0
        for c in reg.candidates():
            s = served.get(c.id, {"calls": 0, "mean_ns": 0.0})
            orig = original_mean.get((c.name, c.pattern), (0.0, 0))[0]
            saved = max(0.0, s["calls"] * (orig - s["mean_ns"]) / 1e9) if s["calls"] and s["mean_ns"] else 0.0
            saved_total += saved
            cands.append({"id": c.id, "name": c.name, "pattern": c.pattern, "origin": c.origin, "state": c.state,
                          "speedup": c.speedup, "validation": c.validation, "benchmark": c.benchmark,
                          "served_calls": s["calls"], "served_mean_ns": s["mean_ns"], "original_mean_ns": orig,
                          "time_saved_s": saved, "canary_calls": c.canary_calls, "reason": c.reason})
        states = {s: sum(1 for c in cands if c["state"] == s) for s in STATES}
        audit = [a.to_json() for a in reg.audit()][-50:]
    return Summary(str(db_path), runs, calls, hot[:hot_limit], cands, states, saved_total, audit)


# ------------------------------------------------------------------ HTML

_STATE_COLOURS = {"proposed": "#9aa5b1", "validated": "#3e7cb1", "canary": "#f0a202", "promoted": "#2f9e44",
                  "rejected": "#c92a2a", "rolled_back": "#862e9c"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;background:#fafbfc}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
.sub{color:#5c6b7a;margin-top:0}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:.8rem 1.1rem;min-width:150px}
.card b{display:block;font-size:1.5rem}.card span{color:#5c6b7a;font-size:.85rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.88rem}th,td{padding:.35rem .55rem;border-bottom:1px solid #eef1f4;text-align:left}
th{background:#f1f4f7}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.82rem}
.pill{display:inline-block;padding:.05rem .5rem;border-radius:999px;color:#fff;font-size:.78rem}
svg text{font-family:inherit;font-size:11px}.why{color:#5c6b7a;font-size:.8rem}
"""


def _bar_chart(items: list[tuple[str, float, str]], unit: str, width: int = 1000) -> str:
    """A horizontal bar chart as inline SVG: (label, value, colour) per bar."""
    if not items:
        return "<p class='why'>nothing to show yet</p>"
    top = max(v for _, v, _ in items) or 1.0
    row, label_w = 22, 360
    h = row * len(items) + 10
    parts = [f"<svg width='{width}' height='{h}' role='img'>"]
    for i, (label, value, colour) in enumerate(items):
        y = 5 + i * row
        w = max(1.0, (width - label_w - 120) * value / top)
        parts.append(f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{html.escape(label[:58])}</text>")
        parts.append(f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='{row - 7}' rx='3' fill='{colour}'/>")
        parts.append(f"<text x='{label_w + w + 6:.1f}' y='{y + 14}'>{value:,.3g} {unit}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _pill(state: str) -> str:
    return f"<span class='pill' style='background:{_STATE_COLOURS.get(state, '#666')}'>{state}</span>"


def html_page(s: Summary) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    cards = [("runs recorded", f"{s.runs}"), ("calls into Python", f"{s.calls:,}"),
             ("candidates", f"{len(s.candidates)}"), ("promoted", f"{s.states.get('promoted', 0)}"),
             ("time saved", _duration(s.time_saved_s))]
    hot_chart = _bar_chart([(f"{h['name']}({h['signature']})", h["total_s"], "#3e7cb1") for h in s.hot[:12]], "s")
    speed_chart = _bar_chart([(f"#{c['id']} {c['name']}", c["speedup"] or 0.0, _STATE_COLOURS[c["state"]])
                              for c in s.candidates if c["speedup"]], "x")
    saved_chart = _bar_chart([(f"#{c['id']} {c['name']}", c["time_saved_s"], "#2f9e44")
                              for c in s.candidates if c["time_saved_s"] > 0], "s")
    state_chart = _bar_chart([(st, float(n), _STATE_COLOURS[st]) for st, n in s.states.items() if n], "")
    rows = []
    for c in s.candidates:
        v = c["validation"] or {}
        checked = f"{v.get('samples', 0)} + {v.get('generated', 0)}" if v else "-"
        rows.append(
            f"<tr><td class='n'>{c['id']}</td><td><code>{e(c['name'])}</code><br><span class='why'>{e(c['pattern'])}"
            f"</span></td><td>{e(c['origin'])}</td><td>{_pill(c['state'])}</td>"
            f"<td class='n'>{'%.2fx' % c['speedup'] if c['speedup'] else '-'}</td><td class='n'>{checked}</td>"
            f"<td class='n'>{v.get('mismatches', '-') if v else '-'}</td><td class='n'>{c['served_calls']:,}</td>"
            f"<td class='why'>{e(c['reason'][:160])}</td></tr>")
    hot_rows = "".join(
        f"<tr><td><code>{e(h['name'])}</code></td><td><code>{e(h['signature'])}</code></td><td class='n'>{h['calls']:,}"
        f"</td><td class='n'>{h['mean_ns'] / 1000:,.2f} µs</td><td class='n'>{h['total_s']:.4f} s</td>"
        f"<td class='why'>{e(', '.join(h['sites'][:3]))}</td></tr>" for h in s.hot)
    audit_rows = "".join(
        f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(a['time']))}</td><td class='n'>#{a['candidate']}</td>"
        f"<td>{_pill(a['from_state']) if a['from_state'] else ''} → {_pill(a['to_state'])}</td>"
        f"<td class='why'>{e(a['reason'][:200])}</td><td>{e(a['actor'])}</td></tr>" for a in reversed(s.audit))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Noodle library evolution report</title><style>{_CSS}</style></head>
<body><h1>Library evolution</h1><p class="sub">{e(s.db)} · generated {time.strftime('%Y-%m-%d %H:%M:%S')}</p>
<div class="cards">{''.join(f"<div class='card'><b>{v}</b><span>{k}</span></div>" for k, v in cards)}</div>
<h2>Hot calls into Python (estimated total time)</h2>{hot_chart}
<table><tr><th>function</th><th>signature</th><th>calls</th><th>mean</th><th>total</th><th>sites</th></tr>{hot_rows}</table>
<h2>Candidates by state</h2>{state_chart}
<h2>Speedup at the recorded shapes</h2>{speed_chart}
<h2>Time saved on live calls</h2>{saved_chart}
<h2>Candidates</h2>
<table><tr><th>id</th><th>replaces</th><th>from</th><th>state</th><th>speedup</th><th>inputs checked</th>
<th>mismatches</th><th>served</th><th>last reason</th></tr>{''.join(rows)}</table>
<h2>Audit log (latest first)</h2>
<table><tr><th>time</th><th>candidate</th><th>move</th><th>reason</th><th>by</th></tr>{audit_rows}</table>
</body></html>
"""


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def write_html(db_path: "str | os.PathLike[str]", out: "str | os.PathLike[str]") -> Path:
    path = Path(out)
    path.write_text(html_page(summary(db_path, hot_limit=30)), encoding="utf-8")
    return path
