// Served through the CDN: proves that the script loaded and ran.
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("script-status");
  status.textContent = "app.js ran";
  status.classList.add("ran");
  const rows = document.getElementById("asset-rows");
  for (const el of document.querySelectorAll("link[rel=stylesheet], script[src]")) {
    const row = document.createElement("tr");
    const url = new URL(el.href || el.src, document.baseURI);
    row.innerHTML = `<td>${el.tagName.toLowerCase()}</td><td><code>${url.host}</code></td><td><code>${url.pathname}${url.search}</code></td>`;
    rows.appendChild(row);
  }
});
