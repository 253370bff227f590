// At mount, call the app's one command and show its answer as a button (data-testid="ready"):
// the first interactive frame the footprint bench waits for, as it waits for Paydesk's sign-in form.
const app = document.getElementById("app");
window.__TAURI_INTERNALS__.invoke("ready").then((answer) => {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.testid = "ready";
  button.textContent = answer;
  app.append(button);
});
