// Loaded through a CDN URL; reports where it came from.
const status = document.getElementById("status");
status.textContent = `The script ran, loaded from ${document.currentScript.src}`;
status.classList.add("loaded");
