// "Print" buttons: print the page (a handler here, not an onclick attribute, so the CSP can
// forbid inline script).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
