// Preloaded into @portkey-ai/gateway 1.15.2 by bench/llm.ts. On Node 24 its streaming path appends
// headers to the upstream's fetch Response, whose headers are immutable ("TypeError: immutable"),
// so every streamed request fails with 500. Rewrapping fetch responses (same body stream, same
// status, copied headers) makes them mutable; the body is not read or copied.
const original = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const r = await original(...args);
  return new Response(r.body, {
    status: r.status,
    statusText: r.statusText,
    headers: new Headers(r.headers),
  });
};
