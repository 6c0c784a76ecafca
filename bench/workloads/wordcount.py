"""Text processing: generate a deterministic text, split it into words and count them in a dict."""
N = 1_500_000


def main():
    vocab = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
             "elit", "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
             "dolore", "magna", "aliqua", "noodle", "bench", "map", "list", "struct"]
    nv = len(vocab)

    # Words chosen by a small linear congruential generator (values stay below 2^62).
    words = []
    seed = 42
    for i in range(N):
        seed = (seed * 1103515245 + 12345) % 2147483648
        words.append(vocab[(seed // 65536) % nv])
    text = " ".join(words)

    tokens = text.split(" ")
    counts = {}
    for w in tokens:
        counts[w] = counts.get(w, 0) + 1

    keys = sorted(counts.keys())
    print(len(text), len(tokens), len(keys))
    for k in keys:
        print(k, counts[k])


if __name__ == "__main__":
    main()
