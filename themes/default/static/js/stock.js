// Live stock on product and listing pages (issue 7). A plain ES module, no build step.
//
// The HTML may be hours old, so: read the SKUs from the page's data-sku attributes, ask
// GET /api/stock once for fresh numbers, then follow /ws/stock. After a drop it reconnects with
// exponential backoff and full jitter (base 1 s, cap 30 s), resuming with ?since= so that no change
// is missed. A tab hidden for a while lets its socket go and catches up when it is shown again.
//
// Same origin by default (Nginx sends /api and /ws to the runtime); a theme can point elsewhere
// with data-api="https://api.example.com" on the script element (which carries data-ishop-stock:
// module scripts have no document.currentScript).

const LOW_STOCK = 5; // the build's "Only N left" threshold (PageModels.lowStockThreshold)
const MAX_SKUS = 200; // GET /api/stock takes at most 200 SKUs
const BASE_DELAY = 1000;
const MAX_DELAY = 30000;
const HIDDEN_GRACE = 60000; // how long a hidden tab keeps its socket

const script = document.querySelector("script[data-ishop-stock]");
const api = new URL((script && script.dataset.api) || "/", location.href);

// Product pages: one data-sku per variant. Listings: a card's data-skus lists its product's SKUs
// (those not sold on backorder); the card is sold out when all of them are.
const cards = [...document.querySelectorAll("[data-skus]")].map((card) => ({
  element: card,
  skus: card.dataset.skus.split(" ").filter(Boolean),
}));
const skus = [
  ...new Set([
    ...[...document.querySelectorAll("[data-sku]")].map((element) => element.dataset.sku),
    ...cards.flatMap((card) => card.skus),
  ]),
]
  .filter((sku) => sku && sku.length <= 255)
  .slice(0, MAX_SKUS);
const known = new Map(); // SKU -> the newest stock seen

let lastSeq = null; // the highest seq received: where a reconnect resumes
let socket = null;
let attempt = 0;
let retryTimer = null;
let hiddenTimer = null;
let stopped = false;

// Variants sold on backorder keep "Available to order" and their button at 0. The default theme
// marks them with data-backorder="true"; a theme that does not is read by its wording.
for (const element of document.querySelectorAll(".stock[data-sku]")) {
  if (element.textContent.trim() === "Available to order") {
    for (const sibling of document.querySelectorAll("[data-sku]")) {
      if (sibling.dataset.sku === element.dataset.sku) sibling.dataset.backorder = "true";
    }
  }
}

function availability(stock) {
  if (stock <= 0) return "Sold out";
  if (stock <= LOW_STOCK) return `Only ${stock} left`;
  return "In stock";
}

function showCards(sku) {
  for (const card of cards) {
    if (!card.skus.includes(sku) || !card.skus.every((each) => known.has(each))) continue;
    const soldOut = card.skus.every((each) => known.get(each) <= 0);
    card.element.classList.toggle("card--sold-out", soldOut);
    const media = card.element.querySelector(".card__media");
    const badge = card.element.querySelector(".badge--sold-out");
    if (soldOut && !badge && media) {
      const span = document.createElement("span");
      span.className = "badge badge--sold-out";
      span.textContent = "Sold out";
      media.append(span);
    } else if (!soldOut && badge) {
      badge.remove();
    }
  }
}

function show(sku, stock) {
  if (!Number.isInteger(stock)) return;
  known.set(sku, stock);
  showCards(sku);
  for (const element of document.querySelectorAll("[data-sku]")) {
    if (element.dataset.sku !== sku) continue;
    const backorder = element.dataset.backorder === "true";
    if (element.classList.contains("stock")) {
      element.textContent = stock <= 0 && backorder ? "Available to order" : availability(stock);
    } else if (element.tagName === "BUTTON") {
      element.disabled = stock <= 0 && !backorder;
    } else if (element.classList.contains("variant")) {
      element.dataset.stock = String(stock);
      element.classList.toggle("variant--sold-out", stock <= 0 && !backorder);
    }
  }
}

async function fetchStock() {
  const url = new URL("api/stock", api);
  url.searchParams.set("skus", skus.join(","));
  const response = await fetch(url, { credentials: "omit", headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const body = await response.json();
  for (const [sku, stock] of Object.entries(body.stock || {})) show(sku, stock);
}

function socketURL() {
  const url = new URL("ws/stock", api);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  // The first connection asks for everything since seq 0, which covers any change between the
  // GET above and the socket opening; later ones resume from the last seq seen.
  url.searchParams.set("since", String(lastSeq ?? 0));
  return url;
}

function connect() {
  if (stopped || socket) return;
  const ws = new WebSocket(socketURL());
  socket = ws;
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify({ subscribe: skus }));
  });
  ws.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.type !== "stock" || typeof message.sku !== "string") return;
    attempt = 0; // a working connection resets the backoff
    if (typeof message.seq === "number" && (lastSeq === null || message.seq > lastSeq)) lastSeq = message.seq;
    show(message.sku, message.stock);
  });
  ws.addEventListener("close", () => {
    if (socket === ws) socket = null;
    if (!stopped) scheduleReconnect();
  });
}

function scheduleReconnect() {
  clearTimeout(retryTimer);
  // Full jitter: a random delay up to the exponential ceiling, so a runtime restart does not
  // bring every open tab back at the same instant.
  const ceiling = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt);
  attempt += 1;
  retryTimer = setTimeout(connect, Math.random() * ceiling);
}

function stop() {
  stopped = true;
  clearTimeout(retryTimer);
  if (socket) socket.close(1000, "tab hidden");
  socket = null;
}

function resume() {
  if (!stopped) return;
  stopped = false;
  attempt = 0;
  connect();
}

document.addEventListener("visibilitychange", () => {
  clearTimeout(hiddenTimer);
  if (document.visibilityState === "hidden") {
    hiddenTimer = setTimeout(stop, HIDDEN_GRACE);
  } else {
    resume();
  }
});

if (skus.length > 0 && "WebSocket" in window) {
  fetchStock().catch(() => {}).finally(connect);
}
