// camkit default theme: the glue between the page and the host's scripts.
// The host's player module (/static/camkit-player.js) does all WebRTC; this
// module hands it the video elements the page marks and shows its state.

// Forms that carry data-autosubmit (a checkout that posts to the processor)
// submit themselves; their button stays for browsers without JavaScript.
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.submit();
}

const STATUS = {
  connecting: "Connecting…",
  live: "",
  paused: "Video paused, reconnecting…",
  pausedSeat: "Video paused. You are not billed while it is paused.",
  ended: "This show has ended.",
};

// Copy buttons (data-copy names the input to copy): the WHIP URL and the
// stream key for OBS.
for (const button of document.querySelectorAll("button[data-copy]")) {
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
  });
}

// bind hands videos to the player; replace (the model's "go live with this
// browser") takes the show from a publisher on air, which nothing else does.
async function bind(players, replace) {
  const { play, publish } = await import("/static/camkit-player.js");
  for (const video of players) {
    const stage = video.closest(".stage") || video.parentElement;
    const status = stage.querySelector("[data-player-status]");
    const show = (state, text) => {
      stage.dataset.state = state;
      if (status) status.textContent = text;
    };
    const { src, token, role } = video.dataset;
    const session = role === "publisher"
      ? publish(video, { whipUrl: src, streamKey: token, replace })
      : play(video, { whepUrl: src, token: token || undefined });
    show("connecting", STATUS.connecting);
    session.addEventListener("live", () => show("live", STATUS.live));
    // A token on a viewer's video means a paid seat: say billing stops too.
    const paused = role !== "publisher" && token ? STATUS.pausedSeat : STATUS.paused;
    session.addEventListener("paused", () => show("paused", paused));
    session.addEventListener("ended", () => show("ended", STATUS.ended));
    session.addEventListener("error", (e) => show("error", e.detail?.message || "Connection problem, retrying…"));
    window.addEventListener("pagehide", () => session.stop(), { once: true });
  }
}

// Only videos marked data-start=true start by themselves: the dashboard's
// camera is not one while OBS is on air.
const players = document.querySelectorAll("video[data-camkit-player][data-start=true]");
if (players.length > 0) await bind(players, false);

for (const button of document.querySelectorAll("button[data-camkit-switch]")) {
  button.addEventListener("click", () => {
    const cams = document.querySelectorAll("video[data-camkit-player][data-role=publisher]:not([data-start=true])");
    button.disabled = true;
    for (const v of cams) v.dataset.start = "true";
    bind(cams, true);
  }, { once: true });
}

// The private-show clock and cost are not ticked here: billing pauses when
// video stops, and only the host knows when; its scripts update them.

// Keep the chat scrolled to the newest line as messages arrive.
for (const log of document.querySelectorAll("[data-chat-log]")) {
  log.scrollTop = log.scrollHeight;
  new MutationObserver(() => { log.scrollTop = log.scrollHeight; }).observe(log, { childList: true });
}

// Cam2cam: the viewer's camera in a private show, seen by the model alone
// (videos marked data-camkit-cam2cam, never data-camkit-player). The
// viewer's own camera publishes only while her toggle is on; the model's
// dashboard plays it by itself. Neither is a paid seat of the page's user,
// so a pause says nothing of billing.
const CAM2CAM = {
  off: "Your camera is off.",
  on: "The model sees your camera.",
  waiting: "Waiting for their camera…",
  paused: "Camera paused, reconnecting…",
};
async function cam2cam() {
  const videos = document.querySelectorAll("video[data-camkit-cam2cam]");
  if (videos.length === 0) return;
  const { play, publish } = await import("/static/camkit-player.js");
  const wire = (video, session, live) => {
    const stage = video.closest(".stage") || video.parentElement;
    const status = stage.querySelector("[data-player-status]");
    const show = (state, text) => {
      stage.dataset.state = state;
      if (status) status.textContent = text;
    };
    show("connecting", STATUS.connecting);
    session.addEventListener("live", () => show("live", live));
    session.addEventListener("paused", () => show("paused", CAM2CAM.paused));
    session.addEventListener("ended", () => show("ended", video.dataset.role === "publisher" ? CAM2CAM.off : STATUS.ended));
    session.addEventListener("error", (e) => show("error", e.detail?.message || "Connection problem, retrying…"));
    window.addEventListener("pagehide", () => session.stop(), { once: true });
  };
  for (const video of videos) {
    if (video.dataset.role === "viewer" && video.dataset.start === "true") {
      wire(video, play(video, { whepUrl: video.dataset.src, token: video.dataset.token }), "");
    }
  }
  for (const button of document.querySelectorAll("button[data-camkit-cam2cam-toggle]")) {
    const video = document.getElementById(button.dataset.camkitCam2camToggle);
    if (!video) continue;
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
      session = publish(video, { whipUrl: video.dataset.src, streamKey: video.dataset.token });
      wire(video, session, CAM2CAM.on);
      button.textContent = "Stop my camera";
      button.setAttribute("aria-pressed", "true");
    });
  }
}
await cam2cam();
