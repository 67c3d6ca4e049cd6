// Keys for the review and adjudication pages, and the overview chart's refresh. No inline script anywhere:
// the Content-Security-Policy allows only this file.
(function () {
  "use strict";
  const typingIn = (el) => el.matches("input[type=text], input[type=search], input[type=date], textarea, select");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (typingIn(target)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const form = document.getElementById("decision");
    const follow = (id) => { const link = document.getElementById(id); if (link) window.location.assign(link.href); };
    if (form && /^[0-9]$/.test(event.key)) {
      const boxes = form.querySelectorAll("input[name=label]");
      const box = boxes[event.key === "0" ? 9 : Number(event.key) - 1];
      if (box) box.checked = !box.checked;
      event.preventDefault();
    } else if (form && event.key === "Enter") {
      event.preventDefault();
      form.requestSubmit();
    } else if (form && event.key === "x") {
      form.querySelectorAll("input[name=label]").forEach((box) => { box.checked = false; });
    } else if (event.key === "Backspace") {
      event.preventDefault();
      follow("previous");
    } else if (event.key === "s") {
      follow("skip");
    } else if (event.key === "n" && document.getElementById("note")) {
      event.preventDefault();
      document.getElementById("note").focus();
    } else if (event.key === "?" && document.getElementById("definitions")) {
      const definitions = document.getElementById("definitions");
      definitions.open = !definitions.open;
      if (definitions.open) definitions.scrollIntoView({ block: "nearest" });
    } else if (event.key === "/") {
      const first = document.querySelector("#filters input, #filters select");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });

  // Saving twice by a double Enter would send the same form twice: the second press waits for the first.
  document.addEventListener("submit", (event) => {
    if (event.target.dataset.sent) event.preventDefault();
    event.target.dataset.sent = "1";
  });

  const chart = document.querySelector("[data-refresh]");
  if (chart) {
    setInterval(() => {
      fetch(chart.dataset.refresh, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : null))
        .then((html) => { if (html !== null) chart.innerHTML = html; })
        .catch(() => {});
    }, 3000);
  }
})();
