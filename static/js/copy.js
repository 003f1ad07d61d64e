// "Copy link" buttons: copy the target input's value to the clipboard and say so.
document.querySelectorAll("[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const input = document.querySelector(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (e) {
      input.select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
  });
});
