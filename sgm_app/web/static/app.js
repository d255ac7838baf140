// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The language menu submits by itself; its button stays for keyboard and no-JS users.
  const lang = document.getElementById("lang-select");
  if (lang) lang.addEventListener("change", () => lang.form.submit());
});
// Uploads show their progress; without JavaScript the form posts normally.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", (event) => {
    const input = form.querySelector("input[type=file]");
    if (!input || !input.files.length) return;  // let the server say what is missing
    event.preventDefault();
    const box = document.getElementById("upload-progress");
    const bar = document.getElementById("progress-bar");
    box.hidden = false;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener("load", () => {
      bar.value = 100;
      if (xhr.status < 400) { window.location.assign(xhr.responseURL); return; }
      document.open(); document.write(xhr.responseText); document.close();  // the page with errors beside fields
    });
    xhr.send(new FormData(form));
  });
});
