/*
 * The psychophysical experiment of ddd (paper section 3.4): two-alternative forced choice, which
 * of two images is harder for the networks. Plain JavaScript, no libraries, no build step; the
 * trials come from trials.js (window.DDD_EXPERIMENT), so the page works from file:// as well as
 * from a server.
 *
 * Flow: consent -> instructions -> practice trials (with feedback) -> main trials (no feedback,
 * a break every `breaks_every` trials) -> end screen (download the responses as CSV).
 * Progress is saved in localStorage after every trial; a reload resumes where the observer was.
 * Served by `python -m ddd.psychophysics serve`, each trial is also sent to the server (and
 * re-sent until the server confirms it).
 *
 * URL parameters: observer=<id> fills in the observer ID; iti=<ms> (blank interval before each
 * trial, default 300) and feedback=<ms> (practice feedback, default 1500) are for testing.
 */
(function () {
  "use strict";

  var COLUMNS = ["study", "observer", "session", "trial", "pair", "practice", "left_id", "right_id",
                 "impossible_side", "response", "correct", "rt_ms", "timestamp"];
  var ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
  var SECONDS_PER_TRIAL = 10;

  var EXP = window.DDD_EXPERIMENT;
  var params = new URLSearchParams(window.location.search);
  var ITI_MS = numberParam("iti", 300);
  var FEEDBACK_MS = numberParam("feedback", 1500);

  var state = null;          // the saved progress (see newState)
  var storage = null;        // localStorage, or null where the browser refuses it
  var server = null;         // {study, manifest} when served by the collection server
  var accepting = false;     // a response is expected now
  var shownAt = 0;           // performance.now() when the current pair appeared
  var flushing = false;
  var retryTimer = null;
  var practiceTrials = [], mainTrials = [];

  function $(id) { return document.getElementById(id); }

  function numberParam(name, fallback) {
    var v = params.get(name);
    if (v === null || v === "" || isNaN(Number(v))) { return fallback; }
    return Math.max(0, Number(v));
  }

  // ---------------------------------------------------------------------------------------
  // Storage

  function storageKey() { return "ddd-psychophysics:" + EXP.study + ":" + EXP.manifest; }

  function openStorage() {
    try {
      var probe = "ddd-psychophysics:probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null;
    }
  }

  function save() {
    if (!storage || !state) { return; }
    try {
      storage.setItem(storageKey(), JSON.stringify(state));
    } catch (e) {
      showWarning("Progress could not be saved in this browser (" + e.name + ").");
    }
  }

  function load() {
    if (!storage) { return null; }
    try {
      var s = JSON.parse(storage.getItem(storageKey()) || "null");
      return s && s.version === 1 ? s : null;
    } catch (e) {
      return null;
    }
  }

  function newSession() {
    var rand = "";
    var bytes = new Uint8Array(6);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) { rand += ("0" + bytes[i].toString(16)).slice(-2); }
    return "s" + Date.now().toString(36) + rand;
  }

  // A seeded shuffle of the main trials per session (xmur3 hash -> mulberry32), kept in the state.
  function seededOrder(n, seedText) {
    var h = 1779033703 ^ seedText.length;
    for (var i = 0; i < seedText.length; i++) {
      h = Math.imul(h ^ seedText.charCodeAt(i), 3432918353);
      h = (h << 13) | (h >>> 19);
    }
    var a = h >>> 0;
    function rand() {
      a = (a + 0x6D2B79F5) | 0;
      var t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    }
    var order = [];
    for (var k = 0; k < n; k++) { order.push(k); }
    for (var j = n - 1; j > 0; j--) {
      var r = Math.floor(rand() * (j + 1));
      var tmp = order[j]; order[j] = order[r]; order[r] = tmp;
    }
    return order;
  }

  function newState(observer) {
    var session = newSession();
    var order = [];
    for (var k = 0; k < mainTrials.length; k++) { order.push(k); }
    if (EXP.shuffle) { order = seededOrder(mainTrials.length, session); }
    return {
      version: 1, study: EXP.study, manifest: EXP.manifest, observer: observer, session: session,
      phase: "instructions", practiceIndex: 0, mainIndex: 0, order: order,
      records: [], pending: [], rejected: [], confirmed: 0,
      started: new Date().toISOString(), finished: null
    };
  }

  // ---------------------------------------------------------------------------------------
  // Screens

  var SCREENS = ["loading", "error", "consent", "instructions", "trial", "message", "end"];

  function show(name) {
    for (var i = 0; i < SCREENS.length; i++) {
      $("screen-" + SCREENS[i]).hidden = SCREENS[i] !== name;
    }
    document.body.classList.toggle("trial-mode", name === "trial");
    document.body.setAttribute("data-screen", name);
    $("progress").hidden = !(name === "trial" || (name === "message" && state &&
                             (state.phase === "break" || state.phase === "main" || state.phase === "practice")));
    window.scrollTo(0, 0);
  }

  function fail(text) {
    $("error-text").textContent = text;
    show("error");
  }

  function showWarning(text) {
    var w = $("consent-warning");
    w.textContent = text;
    w.hidden = false;
  }

  function setProgress() {
    var text, fraction;
    if (state.phase === "practice") {
      fraction = state.practiceIndex / Math.max(1, practiceTrials.length);
      text = "Practice " + Math.min(state.practiceIndex + 1, practiceTrials.length) + " of " + practiceTrials.length;
    } else {
      fraction = state.mainIndex / mainTrials.length;
      text = state.phase === "break" ? state.mainIndex + " of " + mainTrials.length + " done"
        : "Trial " + Math.min(state.mainIndex + 1, mainTrials.length) + " of " + mainTrials.length;
    }
    $("progress-fill").style.width = (100 * fraction).toFixed(1) + "%";
    $("progress").querySelector(".bar").setAttribute("aria-valuenow", String(Math.round(100 * fraction)));
    $("progress-text").textContent = text;
  }

  function message(title, text, buttonText, onContinue, allowRestart) {
    $("message-title").textContent = title;
    $("message-text").textContent = text;
    var b = $("message-continue");
    b.textContent = buttonText;
    b.onclick = function () { b.onclick = null; onContinue(); };
    $("message-restart").hidden = !allowRestart;
    if (state && (state.phase === "practice" || state.phase === "main" || state.phase === "break")) { setProgress(); }
    show("message");
    b.focus();
  }

  // ---------------------------------------------------------------------------------------
  // Consent and instructions

  function showConsent() {
    var minutes = Math.max(5, Math.round((practiceTrials.length + mainTrials.length) * SECONDS_PER_TRIAL / 60 / 5) * 5);
    $("consent-minutes").textContent = String(minutes);
    var input = $("observer");
    var fromUrl = params.get("observer");
    if (fromUrl && !input.value) { input.value = fromUrl; }
    if (!storage) {
      showWarning("This browser does not keep the progress (private window or blocked storage): a reload " +
                  "would lose the responses. Please use another browser window.");
    }
    function update() {
      var ok = ID_RE.test(input.value.trim());
      input.classList.toggle("invalid", input.value.trim() !== "" && !ok);
      $("consent-continue").disabled = !(ok && $("consent").checked);
    }
    input.oninput = update;
    $("consent").onchange = update;
    update();
    $("consent-continue").onclick = function () {
      var observer = input.value.trim();
      if (!ID_RE.test(observer) || !$("consent").checked) { return; }
      state = newState(observer);
      save();
      startSession();
      showInstructions();
    };
    show("consent");
    (input.value ? $("consent") : input).focus();
  }

  function showInstructions() {
    var parts = [];
    if (practiceTrials.length) {
      parts.push("First " + practiceTrials.length + " practice trials tell you after each answer whether it was right.");
    }
    parts.push("Then " + mainTrials.length + " trials follow without feedback" +
               (EXP.breaks_every > 0 && EXP.breaks_every < mainTrials.length
                 ? ", with a short break after every " + EXP.breaks_every + " trials." : "."));
    $("instructions-blocks").textContent = parts.join(" ");
    var b = $("instructions-continue");
    b.textContent = practiceTrials.length ? "Start the practice" : "Start";
    b.onclick = function () {
      state.phase = practiceTrials.length ? "practice" : "main";
      save();
      nextTrial();
    };
    show("instructions");
    b.focus();
  }

  // ---------------------------------------------------------------------------------------
  // Trials

  function currentTrial() {
    if (state.phase === "practice") { return practiceTrials[state.practiceIndex]; }
    return mainTrials[state.order[state.mainIndex]];
  }

  function preload(trial) {
    if (!trial) { return; }
    [trial.left, trial.right].forEach(function (src) { var im = new Image(); im.src = src; });
  }

  function loadImage(img, src) {
    return new Promise(function (resolve, reject) {
      img.onload = function () { resolve(); };
      img.onerror = function () { reject(new Error("image " + src + " could not be loaded")); };
      img.src = src;
      if (img.complete && img.naturalWidth) { resolve(); }
    }).then(function () { return img.decode ? img.decode().catch(function () {}) : null; });
  }

  function nextTrial() {
    var trial = currentTrial();
    var pair = $("pair");
    accepting = false;
    pair.className = "pair waiting";
    ["left", "right"].forEach(function (side) {
      var b = $("stim-" + side);
      b.className = "stimulus";
      b.disabled = false;
    });
    $("feedback").textContent = "";
    $("feedback").className = "feedback";
    pair.setAttribute("data-pair", trial.pair);
    pair.setAttribute("data-practice", trial.practice ? "1" : "0");
    setProgress();
    show("trial");
    var started = performance.now();
    Promise.all([loadImage($("img-left"), trial.left), loadImage($("img-right"), trial.right)]).then(function () {
      var wait = Math.max(0, ITI_MS - (performance.now() - started));
      window.setTimeout(function () {
        pair.className = "pair";
        window.requestAnimationFrame(function () {
          shownAt = performance.now();
          accepting = true;
          document.body.setAttribute("data-accepting", "1");
        });
      }, wait);
    }, function (err) {
      fail(err.message + ". The experiment folder is incomplete; ask the experimenter.");
    });
    if (state.phase === "practice") {
      preload(practiceTrials[state.practiceIndex + 1] || mainTrials[state.order[0]]);
    } else {
      preload(mainTrials[state.order[state.mainIndex + 1]]);
    }
  }

  function respond(side) {
    if (!accepting) { return; }
    accepting = false;
    document.body.removeAttribute("data-accepting");
    var rt = performance.now() - shownAt;
    var trial = currentTrial();
    var practice = state.phase === "practice";
    var record = {
      study: EXP.study, observer: state.observer, session: state.session,
      trial: (practice ? state.practiceIndex : state.mainIndex) + 1, pair: trial.pair, practice: practice,
      left_id: trial.left_id, right_id: trial.right_id, impossible_side: trial.impossible_side,
      response: side, correct: side === trial.impossible_side, rt_ms: Math.round(rt * 10) / 10,
      timestamp: new Date().toISOString()
    };
    state.records.push(record);
    if (server) { state.pending.push(record); }
    var after;
    if (practice) {
      state.practiceIndex += 1;
      if (state.practiceIndex >= practiceTrials.length) { state.phase = "practice-done"; }
    } else {
      state.mainIndex += 1;
      if (state.mainIndex >= mainTrials.length) {
        state.phase = "end";
        state.finished = new Date().toISOString();
      } else if (EXP.breaks_every > 0 && state.mainIndex % EXP.breaks_every === 0) {
        state.phase = "break";
      }
    }
    save();  // before anything else: a reload from here on resumes after this trial
    flush();
    $("pair").classList.add("answered");
    $("stim-" + side).classList.add("chosen");
    if (practice) {  // green: the image the networks fail on; red: a wrong choice
      var good = record.correct;
      $("stim-" + trial.impossible_side).classList.add("answer-good");
      if (!good) { $("stim-" + side).classList.add("answer-bad"); }
      var fb = $("feedback");
      fb.className = "feedback " + (good ? "good" : "bad");
      fb.textContent = good ? "Correct! The networks fail on the image on the " + trial.impossible_side + "."
        : "Not this time: the networks fail on the image on the " + trial.impossible_side + " (green).";
      after = FEEDBACK_MS;
    } else {
      after = 0;
    }
    window.setTimeout(function () { route(false); }, after);
  }

  // ---------------------------------------------------------------------------------------
  // Where the state says the observer is

  function route(resumed) {
    var done = state.mainIndex, n = mainTrials.length;
    switch (state.phase) {
      case "instructions":
        return showInstructions();
      case "practice":
      case "main":
        if (resumed) {
          var where = state.phase === "practice"
            ? "You were at practice trial " + (state.practiceIndex + 1) + " of " + practiceTrials.length + "."
            : "You have completed " + done + " of " + n + " trials.";
          return message("Welcome back, " + state.observer, where + " Continue where you left off.",
                         "Continue", nextTrial, true);
        }
        return nextTrial();
      case "practice-done":
        return message("Practice done", "Now the " + n + " trials of the experiment follow. You will no longer " +
                       "be told whether your answer was right. Which image is harder for the networks?",
                       "Start the experiment", function () { state.phase = "main"; save(); nextTrial(); }, false);
      case "break":
        return message("Time for a short break", "You have completed " + done + " of " + n + " trials. Rest " +
                       "your eyes for a moment, and continue when you are ready.", "Continue",
                       function () { state.phase = "main"; save(); nextTrial(); }, false);
      case "end":
        return showEnd();
      default:
        return showConsent();
    }
  }

  // ---------------------------------------------------------------------------------------
  // End: CSV export and the server's confirmation

  function csvField(v) {
    var s = typeof v === "boolean" ? (v ? "1" : "0") : String(v);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function toCSV(records) {
    var lines = [COLUMNS.join(",")];
    records.forEach(function (r) {
      lines.push(COLUMNS.map(function (c) {
        return csvField(c === "rt_ms" ? Number(r[c]).toFixed(1) : r[c]);
      }).join(","));
    });
    return lines.join("\n") + "\n";
  }

  function download() {
    var blob = new Blob([toCSV(state.records)], {type: "text/csv;charset=utf-8"});
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = EXP.study + "-" + state.observer + "-" + state.session + ".csv";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function updateServerStatus() {
    var el = $("end-server");
    if (!state || state.phase !== "end") { return; }
    var total = state.records.length;
    $("retry").hidden = true;
    if (!server) {
      el.className = "status";
      el.textContent = "Your responses are kept in this browser. Please download them now (or let the experimenter do it).";
      return;
    }
    if (state.rejected.length) {
      el.className = "status bad";
      el.textContent = state.rejected.length + " trials were refused by the server (" + state.rejected[0].error +
                       "). Please download the responses and give the file to the experimenter.";
    } else if (state.pending.length) {
      el.className = "status bad";
      el.textContent = state.pending.length + " of " + total + " trials are not yet saved on the experimenter's " +
                       "computer. Keep this page open; they are sent again.";
      $("retry").hidden = false;
    } else {
      el.className = "status ok";
      el.textContent = "All your answers (" + total + ", with the practice) are saved on the experimenter's computer.";
    }
    el.setAttribute("data-confirmed", String(state.confirmed));
  }

  function showEnd() {
    var n = state.records.filter(function (r) { return !r.practice; }).length;
    $("end-text").textContent = "You have completed all " + n + " trials, " + state.observer + ". Thank you for your time.";
    $("download").onclick = download;
    $("retry").onclick = function () { flush(); };
    updateServerStatus();
    show("end");
    $("download").focus();
  }

  function restart() {
    var ok = window.confirm("Start over with a new observer? The saved progress of " + state.observer +
                            " in this browser is deleted" + (state.phase === "end" ? " (download the responses first)." : "."));
    if (!ok) { return; }
    if (storage) { storage.removeItem(storageKey()); }
    state = null;
    $("consent").checked = false;
    $("observer").value = "";
    showConsent();
  }

  // ---------------------------------------------------------------------------------------
  // The collection server (optional)

  function post(path, body) {
    return window.fetch(path, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body), cache: "no-store"
    });
  }

  function detectServer() {
    if (!/^https?:$/.test(window.location.protocol)) { return Promise.resolve(null); }
    return window.fetch("api/status", {cache: "no-store"}).then(function (res) {
      if (!res.ok) { return null; }
      return res.json().then(function (s) { return s && s.collect && s.study === EXP.study ? s : null; });
    }).catch(function () { return null; });
  }

  function startSession() {
    if (!server || !state) { return Promise.resolve(false); }
    return post("api/start", {observer: state.observer, session: state.session}).then(function (res) {
      if (!res.ok) {
        return res.json().catch(function () { return {}; }).then(function (e) {
          showWarning("The server refused observer " + state.observer + ": " + (e.error || res.status));
          return false;
        });
      }
      return true;
    }).catch(function () { return false; });
  }

  function scheduleRetry() {
    if (retryTimer) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, 3000);
  }

  function flush() {
    if (!server || !state || flushing || !state.pending.length) { updateServerStatus(); return; }
    flushing = true;
    var restarted = false;
    function step() {
      if (!state || !state.pending.length) { return Promise.resolve(); }
      var rec = state.pending[0];
      return post("api/trial", rec).then(function (res) {
        if (res.ok) {
          state.pending.shift();
          state.confirmed += 1;
          save();
          return step();
        }
        if (res.status === 403 && !restarted) {  // the server does not know the observer (yet)
          restarted = true;
          return startSession().then(step);
        }
        return res.json().catch(function () { return {}; }).then(function (e) {
          state.rejected.push({pair: rec.pair, status: res.status, error: e.error || String(res.status)});
          state.pending.shift();
          save();
          return step();
        });
      }, function () { scheduleRetry(); });  // offline: try again later
    }
    step().then(function () { flushing = false; updateServerStatus(); },
                function () { flushing = false; scheduleRetry(); });
  }

  // ---------------------------------------------------------------------------------------
  // Input

  document.addEventListener("keydown", function (e) {
    if (e.repeat || e.altKey || e.ctrlKey || e.metaKey) { return; }
    if ($("screen-trial").hidden) { return; }
    if (e.key === "ArrowLeft") { e.preventDefault(); respond("left"); }
    else if (e.key === "ArrowRight") { e.preventDefault(); respond("right"); }
  });
  ["left", "right"].forEach(function (side) {
    $("stim-" + side).addEventListener("click", function (e) {
      e.preventDefault();
      this.blur();
      respond(side);
    });
  });
  $("message-restart").addEventListener("click", function () { restart(); });
  $("restart").addEventListener("click", function () { restart(); });

  // ---------------------------------------------------------------------------------------
  // Start

  function init() {
    if (!EXP || !EXP.trials || !EXP.trials.length) {
      return fail("The list of trials (trials.js) is missing. Open index.html inside the folder that the " +
                  "psychophysics_stimuli rule wrote (results/<study>/psychophysics).");
    }
    practiceTrials = EXP.trials.filter(function (t) { return t.practice; });
    mainTrials = EXP.trials.filter(function (t) { return !t.practice; });
    storage = openStorage();
    state = load();
    if (state && (state.order.length !== mainTrials.length)) { state = null; }
    detectServer().then(function (s) {
      server = s;
      document.body.setAttribute("data-mode", server ? "server" : "local");
      if (server && state) {
        startSession().then(function () { flush(); });
      }
      if (!state) { return showConsent(); }
      route(true);
    });
  }

  init();
})();
