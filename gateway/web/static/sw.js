// skinscan's service worker: caches the app shell (styles, script, icons, the
// offline page) so the app installs and starts without a connection. It never
// caches pages, results, images or anything else with patient data: those are
// always fetched from the server (and are sent with Cache-Control: no-store).
"use strict";

// Bumped whenever a file of the shell changes: installed apps serve it from the cache first.
const SHELL_CACHE = "skinscan-shell-v2";
const SHELL = [
  "/static/app.css",
  "/static/app.js",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/manifest.webmanifest",
  "/offline",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((names) =>
      Promise.all(names.filter((n) => n !== SHELL_CACHE).map((n) => caches.delete(n)))
    )
  );
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  if (request.mode === "navigate") {
    // Pages come from the network; offline, the offline page says so.
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
  }
});
