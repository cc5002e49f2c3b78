// The webcam kiosk (templates/recognition/kiosk.html): film, send a frame, draw the answer, repeat.
// A static file, not an inline script, for the site's Content-Security-Policy (script-src 'self').
// One frame is in flight at a time, so a slow server lowers the frame rate instead of queueing
// frames; the frame is a JPEG made from the video in memory, sent, and dropped.
"use strict";

(function () {
  const FRAME_INTERVAL_MS = 250; // at most 4 frames a second
  const MAX_FRAME_WIDTH = 640; // enough for faces a metre or two away, and cheap to send and decode
  const JPEG_QUALITY = 0.85;

  const settings = document.getElementById("kiosk-settings");
  if (!settings) return;
  const modeSelect = settings.querySelector("[name=mode]");
  const identitySelect = settings.querySelector("[name=identity]");
  const identityField = document.getElementById("kiosk-identity-field");
  const startButton = document.getElementById("kiosk-start");
  const stopButton = document.getElementById("kiosk-stop");
  const video = document.getElementById("kiosk-video");
  const overlay = document.getElementById("kiosk-overlay");
  const status = document.getElementById("kiosk-status");
  const verdict = document.getElementById("kiosk-verdict");
  const faceList = document.getElementById("kiosk-faces");
  const timing = document.getElementById("kiosk-timing");
  const canvas = document.createElement("canvas");

  let stream = null;
  let running = false;
  let run = "";
  let answered = 0; // frames answered in this run

  function newRunId() {
    // Tells this run's streak from another tab's; not a secret (the session is the credential).
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function showIdentityField() {
    identityField.hidden = modeSelect.value !== "verify";
  }

  function say(text) {
    status.textContent = text;
  }

  function livenessText(liveness) {
    if (!liveness) return "liveness not checked";
    const score = liveness.score.toFixed(2);
    return liveness.is_live ? `live (${score})` : `possible presentation attack (${score})`;
  }

  function drawFaces(answer) {
    overlay.replaceChildren();
    faceList.replaceChildren();
    const scale = video.clientWidth / answer.image_size[0];
    for (const face of answer.faces) {
      const [x1, y1, x2, y2] = face.box;
      const box = document.createElement("div");
      box.className = face.known ? "kiosk-box known" : "kiosk-box";
      box.style.left = `${x1 * scale}px`;
      box.style.top = `${y1 * scale}px`;
      box.style.width = `${(x2 - x1) * scale}px`;
      box.style.height = `${(y2 - y1) * scale}px`;
      const label = document.createElement("span");
      label.className = "kiosk-label";
      label.textContent = answer.mode === "verify" ? `${face.label}?` : face.label;
      box.append(label);
      overlay.append(box);
      const item = document.createElement("li");
      const score = face.score === null ? "" : `, score ${face.score.toFixed(3)}`;
      item.textContent = `${face.label}${score}: ${livenessText(face.liveness)}`;
      faceList.append(item);
    }
  }

  function showVerdict(answer) {
    if (answer.mode !== "verify" || answer.stable === null || answer.stable === "nobody") {
      verdict.hidden = true;
      verdict.className = "kiosk-verdict";
      if (answer.mode === "verify") {
        say(answer.decision === "nobody" ? "Looking for a face…"
          : `Hold still… (${answer.streak} of the frames needed agree)`);
      } else {
        say(answer.faces.length ? `${answer.faces.length} face(s) in view.` : "Looking for faces…");
      }
      return;
    }
    const person = identitySelect.options[identitySelect.selectedIndex].text;
    const accepted = answer.stable === "accept";
    verdict.hidden = false;
    verdict.className = `kiosk-verdict ${answer.stable}`;
    verdict.textContent = accepted ? `ACCEPT: this is ${person}` : `REFUSE: not ${person}`;
    const why = answer.faces[0] && answer.faces[0].reason === "liveness_failed" ? " (failed the liveness check)" : "";
    say(`${accepted ? "Accepted" : "Refused"}${why}.`);
  }

  function captureFrame() {
    const width = Math.min(MAX_FRAME_WIDTH, video.videoWidth);
    canvas.width = width;
    canvas.height = Math.round(video.videoHeight * (width / video.videoWidth));
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  }

  async function sendFrame(blob) {
    const body = new FormData();
    body.append("frame", blob, "frame.jpg");
    body.append("mode", modeSelect.value);
    body.append("run", run);
    body.append("identity", identitySelect ? identitySelect.value : "");
    body.append("csrfmiddlewaretoken", settings.querySelector("[name=csrfmiddlewaretoken]").value);
    const response = await fetch(settings.dataset.frameUrl, {
      method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
    });
    const isJson = (response.headers.get("Content-Type") || "").startsWith("application/json");
    const answer = isJson ? await response.json().catch(() => null) : null;
    if (response.redirected && !isJson) throw new Error("the session has ended: sign in again.");
    if (!response.ok || answer === null || answer.error) {
      const message = answer && answer.error ? answer.error.message : `the server answered ${response.status}`;
      throw new Error(message);
    }
    return answer;
  }

  function wait(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function loop() {
    while (running) {
      const started = performance.now();
      if (video.readyState >= 2 && video.videoWidth > 0) {
        try {
          const blob = await captureFrame();
          const answer = await sendFrame(blob);
          if (!running) break;
          drawFaces(answer);
          showVerdict(answer);
          answered += 1;
          timing.dataset.frames = String(answered);
          timing.textContent = `Frame ${answered}: round trip ${Math.round(performance.now() - started)} ms.`;
        } catch (error) {
          say(`Stopped: ${error.message}`);
          stop();
          break;
        }
      }
      await wait(Math.max(0, FRAME_INTERVAL_MS - (performance.now() - started)));
    }
  }

  async function start() {
    if (modeSelect.value === "verify" && !identitySelect.value) {
      say("Choose the person to verify first.");
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say("This browser gives no camera here: open the site over HTTPS or on http://127.0.0.1.");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    } catch (error) {
      say(`The camera could not be opened: ${error.message}`);
      return;
    }
    video.srcObject = stream;
    run = newRunId();
    answered = 0;
    running = true;
    startButton.disabled = true;
    stopButton.disabled = false;
    modeSelect.disabled = true;
    if (identitySelect) identitySelect.disabled = true;
    say("Camera on: looking for faces…");
    loop();
  }

  function stop() {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    overlay.replaceChildren();
    startButton.disabled = false;
    stopButton.disabled = true;
    modeSelect.disabled = false;
    if (identitySelect) identitySelect.disabled = false;
  }

  modeSelect.addEventListener("change", showIdentityField);
  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", () => {
    stop();
    say("The camera is off.");
  });
  showIdentityField();
})();
