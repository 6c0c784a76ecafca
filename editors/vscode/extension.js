// The Noodle extension: the grammar and language configuration are declared in package.json;
// this starts the language server (`noodle lsp`, over stdio) for .nd files.
"use strict";
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("noodle").get("server.command", ["noodle", "lsp"]);
  client = new LanguageClient(
    "noodle",
    "Noodle language server",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "noodle" }] },
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start().catch((err) => {
    vscode.window.showWarningMessage(
      `Noodle: the language server (${command} ${args.join(" ")}) did not start: ${err.message}. ` +
        "Highlighting still works; set noodle.server.command to where `noodle` is installed.",
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
