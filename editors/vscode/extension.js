// Starts `nasc lsp` for .nas files.
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('nasc').get('path') || 'nasc';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient('nasc', 'nasc', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'nas' }],
  });
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
