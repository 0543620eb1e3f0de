// camkit midnight theme: hands the page's marked video elements to the
// host's player module (/static/camkit-player.js does all WebRTC) and keeps
// the caption over each screen telling what the stream is doing.

// A checkout that posts to the processor submits itself; its button stays
// for browsers without JavaScript.
document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.submit());

// What the caption says in each state; "" hides it. A viewer's video with a
// token is a paid seat, where a pause also stops the bill.
function captions(role, paidSeat) {
  return {
    connecting: "Connecting…",
    live: "",
    paused: paidSeat ? "The picture has paused. You are not billed while it is away."
      : role === "publisher" ? "Your camera has paused; reconnecting…" : "The picture has paused; reconnecting…",
    ended: "The curtain has fallen on this show.",
  };
}

// replace is the model's "go live with this browser": it alone takes the
// show from a publisher on air (OBS).
async function bindScreens(videos, replace = false) {
  const player = await import("/static/camkit-player.js");
  videos.forEach((video) => {
    const frame = video.closest(".screen") ?? video.parentElement;
    const caption = frame.querySelector("[data-player-status]");
    const { src, token, role } = video.dataset;
    const words = captions(role, role !== "publisher" && Boolean(token));
    const set = (state, text) => {
      frame.dataset.state = state;
      if (caption) caption.textContent = text;
    };
    const session = role === "publisher"
      ? player.publish(video, { whipUrl: src, streamKey: token, replace })
      : player.play(video, { whepUrl: src, token: token || undefined });
    set("connecting", words.connecting);
    ["live", "paused", "ended"].forEach((state) =>
      session.addEventListener(state, () => set(state, words[state])));
    session.addEventListener("error", (e) =>
      set("error", e.detail?.message || "A connection problem; trying again…"));
    addEventListener("pagehide", () => session.stop(), { once: true });
  });
}

// Only screens marked data-start=true start by themselves: the studio's
// camera is not one while OBS is on air.
const screens = [...document.querySelectorAll("video[data-camkit-player][data-start=true]")];
if (screens.length) bindScreens(screens);

document.querySelectorAll("button[data-camkit-switch]").forEach((button) =>
  button.addEventListener("click", () => {
    const cams = [...document.querySelectorAll("video[data-camkit-player][data-role=publisher]:not([data-start=true])")];
    button.disabled = true;
    cams.forEach((v) => { v.dataset.start = "true"; });
    bindScreens(cams, true);
  }, { once: true }));

// Copy buttons for the WHIP URL and the stream key (data-copy names the input).
document.querySelectorAll("button[data-copy]").forEach((button) =>
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    if (!input) return;
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = "Copied";
    } catch {
      input.type = "text";
      input.select();
    }
  }));

// The running time and cost of a private show are not ticked here: billing
// pauses when the picture stops, and only the host knows when.

// Keep the parlour scrolled to its newest line.
document.querySelectorAll("[data-chat-log]").forEach((log) => {
  const follow = () => { log.scrollTop = log.scrollHeight; };
  follow();
  new MutationObserver(follow).observe(log, { childList: true });
});

// Cam2cam: a private guest's camera, seen by the performer alone (videos
// marked data-camkit-cam2cam, never data-camkit-player). The guest's camera
// publishes only while the toggle is lit; the studio plays it by itself.
// Neither is a paid seat of whoever looks at the page, so a pause bills nobody.
async function cam2cam() {
  const videos = [...document.querySelectorAll("video[data-camkit-cam2cam]")];
  if (!videos.length) return;
  const player = await import("/static/camkit-player.js");
  const wire = (video, session, lit) => {
    const frame = video.closest(".screen") ?? video.parentElement;
    const caption = frame.querySelector("[data-player-status]");
    const set = (state, text) => {
      frame.dataset.state = state;
      if (caption) caption.textContent = text;
    };
    set("connecting", "Connecting…");
    session.addEventListener("live", () => set("live", lit));
    session.addEventListener("paused", () => set("paused", "The camera has paused; reconnecting…"));
    session.addEventListener("ended", () => set("ended", video.dataset.role === "publisher" ? "Your camera is dark." : "The curtain has fallen on this show."));
    session.addEventListener("error", (e) => set("error", e.detail?.message || "A connection problem; trying again…"));
    addEventListener("pagehide", () => session.stop(), { once: true });
  };
  videos.filter((v) => v.dataset.role === "viewer" && v.dataset.start === "true").forEach((video) =>
    wire(video, player.play(video, { whepUrl: video.dataset.src, token: video.dataset.token }), ""));
  document.querySelectorAll("button[data-camkit-cam2cam-toggle]").forEach((button) => {
    const video = document.getElementById(button.dataset.camkitCam2camToggle);
    if (!video) return;
    const label = button.textContent;
    let session = null;
    button.addEventListener("click", () => {
      if (session) {
        session.stop();
        session = null;
        button.textContent = label;
        button.setAttribute("aria-pressed", "false");
        return;
      }
      session = player.publish(video, { whipUrl: video.dataset.src, streamKey: video.dataset.token });
      wire(video, session, "The performer sees you.");
      button.textContent = "Darken my camera";
      button.setAttribute("aria-pressed", "true");
    });
  });
}
cam2cam();
