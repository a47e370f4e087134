// A tiny single-page app: client-side routes, data from /api/hello.
const view = document.getElementById("view");

async function render() {
  const response = await fetch("/api/hello");
  const data = await response.json();
  view.textContent = `Route ${location.pathname}: ${data.message}`;
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-route]");
  if (link) {
    event.preventDefault();
    history.pushState({}, "", link.getAttribute("href"));
    render();
  }
});
window.addEventListener("popstate", render);
render();
