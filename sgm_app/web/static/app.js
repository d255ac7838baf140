// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The language menu submits by itself; its button stays for keyboard and no-JS users.
  const lang = document.getElementById("lang-select");
  if (lang) lang.addEventListener("change", () => lang.form.submit());
});
