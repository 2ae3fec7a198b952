/*
 * The psychophysical experiment of ddd (paper section 3.4): two-alternative forced choice, which
 * of two images is harder for the networks. Plain JavaScript, no libraries, no build step; the
 * trials come from trials.js (window.DDD_EXPERIMENT), so the page works from file:// as well as
 * from a server.
 *
 * Flow: consent -> instructions -> practice trials (with feedback) -> main trials (no feedback,
 * a break every `breaks_every` trials) -> end screen (download the responses as CSV).
 * A trial: blank grey interval (`iti_ms`) -> fixation mark (`fixation_mark` for `fixation_ms`) ->
 * the two images (until the answer, or for `stimulus_ms`, then a response screen) -> the answer.
 * A trial not answered within `max_response_ms` comes again at the end of its block. Onsets are
 * switched on animation frames and measured there (window.DDD_TIMING).
 * Progress is saved in localStorage after every trial; a reload resumes where the observer was.
 * One tab per study is active at a time (BroadcastChannel and storage events): opening the page
 * again elsewhere makes the older tab stop and ask to be closed. A link for another observer than
 * the one whose progress is saved asks before anything is resumed or replaced.
 * Served by `python -m ddd.psychophysics serve`, each trial is also sent to the server (and
 * re-sent until the server confirms it); every image is preloaded, and an image that cannot be
 * fetched while the server is away makes the page wait ("connection lost") and go on by itself.
 * The images are shown at `display_size` CSS pixels, never rescaled: a window too small for them
 * shows a message until it is large enough.
 *
 * URL parameters: observer=<id> fills in the observer ID; iti=<ms> (overrides `iti_ms`) and
 * feedback=<ms> (practice feedback, default 1500) are for testing.
 */
(function () {
  "use strict";

  var COLUMNS = ["study", "observer", "session", "trial", "pair", "practice", "left_id", "right_id",
                 "impossible_side", "response", "correct", "rt_ms", "timestamp", "stimulus_ms",
                 "max_response_ms", "timeouts"];
  var ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
  var SECONDS_PER_TRIAL = 10;
  var HALF_FRAME_MS = 8;     // an onset is switched on the first frame at most this much before its time
  var RETRY_MS = 2000;       // images and trials are fetched / sent again after this long

  var EXP = window.DDD_EXPERIMENT;
  var params = new URLSearchParams(window.location.search);
  var OPT = {};              // timing options (trials.js, with defaults), see readOptions
  var FEEDBACK_MS = numberParam("feedback", 1500);

  var state = null;          // the saved progress (see newState)
  var storage = null;        // localStorage, or null where the browser refuses it
  var server = null;         // {study, manifest} when served by the collection server
  var accepting = false;     // a response is expected now
  var shownAt = 0;           // performance.now() when the current pair appeared
  var flushing = false;
  var retryTimer = null;
  var connectionLost = false;
  var practiceTrials = [], mainTrials = [];
  var epoch = 0;             // bumped to cancel every pending timer and frame callback of a trial
  var tabId = null, active = true, channel = null;
  var downloaded = false;    // the current state's responses were downloaded in this tab
  var images = {};           // src -> {img, promise, ok}
  var timing = window.DDD_TIMING = [];  // per shown trial: measured iti, fixation and stimulus ms

  function $(id) { return document.getElementById(id); }

  function numberParam(name, fallback) {
    var v = params.get(name);
    if (v === null || v === "" || isNaN(Number(v))) { return fallback; }
    return Math.max(0, Number(v));
  }

  function readOptions() {
    function num(v, d) { return typeof v === "number" && isFinite(v) && v >= 0 ? v : d; }
    OPT = {
      iti_ms: numberParam("iti", num(EXP.iti_ms, 300)),
      fixation_ms: num(EXP.fixation_ms, 0),
      fixation_mark: typeof EXP.fixation_mark === "string" ? EXP.fixation_mark : "+",
      stimulus_ms: num(EXP.stimulus_ms, null),
      max_response_ms: num(EXP.max_response_ms, null),
      fullscreen: EXP.fullscreen === true,
      display_size: num(EXP.display_size, 224) || 224
    };
    if (!OPT.fixation_mark) { OPT.fixation_ms = 0; }
    document.documentElement.style.setProperty("--stim", OPT.display_size + "px");
    $("fixation").textContent = OPT.fixation_mark;
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
    if (!storage || !state || !active) { return; }
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
      if (!s || s.version !== 1 || !s.order || s.order.length !== mainTrials.length) { return null; }
      if (!s.practiceOrder) { s.practiceOrder = practiceTrials.map(function (_, k) { return k; }); }
      return s;
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
      practiceOrder: practiceTrials.map(function (_, k) { return k; }), timeouts: 0, pairTimeouts: {},
      records: [], pending: [], rejected: [], confirmed: 0,
      started: new Date().toISOString(), finished: null
    };
  }

  // ---------------------------------------------------------------------------------------
  // One active tab: the newest page claims the study; every other tab stops and says so.

  function lockKey() { return storageKey() + ":active-tab"; }

  function claim() {
    active = true;
    document.body.removeAttribute("data-inactive");
    if (channel) { try { channel.postMessage({type: "claim", tab: tabId}); } catch (e) { /* closed */ } }
    if (storage) {
      try { storage.setItem(lockKey(), JSON.stringify({tab: tabId, t: Date.now()})); } catch (e) { /* full */ }
    }
  }

  function claimedElsewhere(tab) {
    if (!tab || tab === tabId || !active) { return; }
    active = false;
    epoch += 1;
    accepting = false;
    document.body.removeAttribute("data-accepting");
    document.body.setAttribute("data-inactive", "1");
    if (retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; }
    $("elsewhere-here").onclick = function () {
      claim();
      state = load() || state;
      if (!state) { return showConsent(); }
      if (server) { startSession().then(function () { flush(); }); }
      route(true);
    };
    show("elsewhere");
  }

  function watchTabs() {
    tabId = newSession();
    if (window.BroadcastChannel) {
      try {
        channel = new window.BroadcastChannel(storageKey());
        channel.onmessage = function (e) {
          if (e.data && e.data.type === "claim") { claimedElsewhere(e.data.tab); }
        };
      } catch (e) { channel = null; }
    }
    window.addEventListener("storage", function (e) {
      if (e.key !== lockKey() || !e.newValue) { return; }
      try { claimedElsewhere(JSON.parse(e.newValue).tab); } catch (err) { /* not ours */ }
    });
    claim();
  }

  // ---------------------------------------------------------------------------------------
  // Screens

  var SCREENS = ["loading", "error", "consent", "instructions", "trial", "message", "end", "waiting", "elsewhere",
                 "switch", "small"];

  function show(name) {
    for (var i = 0; i < SCREENS.length; i++) {
      $("screen-" + SCREENS[i]).hidden = SCREENS[i] !== name;
    }
    document.body.classList.toggle("trial-mode", name === "trial" || name === "waiting");
    document.body.setAttribute("data-screen", name);
    $("progress").hidden = !(name === "trial" || (name === "message" && state &&
                             (state.phase === "break" || state.phase === "main" || state.phase === "practice")));
    window.scrollTo(0, 0);
  }

  function fail(text) {
    epoch += 1;
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

  function observerProblem(text) {
    if (text === "") { return "Enter the observer ID that the experimenter gave you."; }
    if (text.length > 64) { return "The ID is too long: at most 64 characters."; }
    if (!/^[A-Za-z0-9]/.test(text)) { return "The ID must start with a letter or a digit."; }
    var bad = text.replace(/[A-Za-z0-9_-]/g, "");
    if (bad) {
      return "Not allowed in an ID: " + Array.from(new Set(bad.split(""))).map(function (c) {
        return c === " " ? "spaces" : "\u201c" + c + "\u201d";
      }).join(", ") + ". Use letters, digits, - and _ only.";
    }
    return "";
  }

  function showConsent() {
    epoch += 1;
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
      var text = input.value.trim();
      var problem = observerProblem(text);
      var ok = !problem;
      input.classList.toggle("invalid", text !== "" && !ok);
      input.setAttribute("aria-invalid", text !== "" && !ok ? "true" : "false");
      var reason = problem || ($("consent").checked ? "" : "Tick the box below to agree before you continue.");
      $("observer-error").textContent = reason;
      $("observer-error").className = "field-error" + (problem && text !== "" ? " bad" : "");
      $("consent-continue").disabled = !(ok && $("consent").checked);
    }
    input.oninput = update;
    $("consent").onchange = update;
    update();
    $("consent-continue").onclick = function () {
      var observer = input.value.trim();
      if (observerProblem(observer) || !$("consent").checked) { return; }
      state = newState(observer);
      downloaded = false;
      save();
      startSession();
      preloadAll();
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
    if (OPT.fixation_ms > 0) { parts.push("Before each pair, look at the mark " + OPT.fixation_mark + " in the middle."); }
    if (OPT.stimulus_ms) {
      parts.push("The images are shown for " + (OPT.stimulus_ms / 1000).toFixed(OPT.stimulus_ms % 1000 ? 1 : 0) +
                 " s; answer when they are gone.");
    }
    if (OPT.max_response_ms) {
      parts.push("Answer within " + Math.round(OPT.max_response_ms / 1000) + " s; a pair left unanswered comes again later.");
    }
    $("instructions-blocks").textContent = parts.join(" ");
    $("instructions-time").textContent = OPT.max_response_ms ? "Go by your first impression."
      : "Go by your first impression; there is no time limit.";
    var b = $("instructions-continue");
    b.textContent = practiceTrials.length ? "Start the practice" : "Start";
    b.onclick = function () {
      requestFullscreen();
      state.phase = practiceTrials.length ? "practice" : "main";
      save();
      nextTrial();
    };
    show("instructions");
    b.focus();
  }

  function requestFullscreen() {
    if (!OPT.fullscreen) { return; }
    document.body.setAttribute("data-fullscreen", "requested");
    var el = document.documentElement;
    var req = el.requestFullscreen || el.webkitRequestFullscreen;
    if (!req || document.fullscreenElement) { return; }
    try {
      var p = req.call(el);
      if (p && p.catch) { p.catch(function () { document.body.setAttribute("data-fullscreen", "refused"); }); }
    } catch (e) {
      document.body.setAttribute("data-fullscreen", "refused");
    }
  }

  // ---------------------------------------------------------------------------------------
  // Images: preloaded once, fetched again after a failure; a missing file is told from an outage.

  function getImage(src) {
    var c = images[src];
    if (c && c.ok) { return Promise.resolve(c.img); }
    if (c && c.promise) { return c.promise; }
    c = images[src] = {img: new Image(), ok: false, tries: c ? c.tries + 1 : 0, promise: null};
    var img = c.img;
    img.alt = "";
    c.promise = new Promise(function (resolve, reject) {
      img.onload = function () { resolve(); };
      img.onerror = function () { reject(new Error("image " + src + " could not be loaded")); };
      img.src = c.tries && /^https?:$/.test(window.location.protocol) ? src + "?retry=" + c.tries : src;
    }).then(function () {
      return img.decode ? img.decode().catch(function () {}) : null;
    }).then(function () {
      c.ok = true; c.promise = null;
      return img;
    }, function (err) {
      c.promise = null;
      throw err;
    });
    return c.promise;
  }

  // "missing": the file is not there (the folder is incomplete); "offline": try again later.
  function diagnose(src) {
    if (!/^https?:$/.test(window.location.protocol)) { return Promise.resolve("missing"); }
    return window.fetch(src, {cache: "no-store"}).then(function (res) {
      return res.status === 404 ? "missing" : (res.ok ? "retry" : "offline");
    }, function () { return "offline"; });
  }

  function upcoming() {
    var list = [];
    if (!state) { return list; }
    if (state.phase === "practice" || state.phase === "instructions") {
      for (var i = state.practiceIndex; i < practiceTrials.length; i++) { list.push(practiceTrials[state.practiceOrder[i]]); }
    }
    for (var k = state.mainIndex; k < mainTrials.length; k++) { list.push(mainTrials[state.order[k]]); }
    return list;
  }

  function preloadAll() {
    var queue = [];
    upcoming().forEach(function (t) { queue.push(t.left, t.right); });
    var running = 0;
    function next() {
      while (running < 4 && queue.length) {
        var src = queue.shift();
        running += 1;
        getImage(src).catch(function () {}).then(function () { running -= 1; next(); });
      }
    }
    next();
  }

  // ---------------------------------------------------------------------------------------
  // Frames: onsets switch on animation frames; `after(ms, t0, fn)` calls fn(ts) on the first frame
  // at least ms - half a frame after the frame time t0.

  function frame(fn) {
    var my = epoch;
    window.requestAnimationFrame(function (ts) { if (my === epoch) { fn(ts); } });
  }

  function after(ms, t0, fn) {
    var my = epoch;
    function tick(ts) {
      if (my !== epoch) { return; }
      if (ts - t0 >= ms - HALF_FRAME_MS) { fn(ts); } else { window.requestAnimationFrame(tick); }
    }
    window.requestAnimationFrame(tick);
  }

  function later(ms, fn) {
    var my = epoch;
    return window.setTimeout(function () { if (my === epoch) { fn(); } }, ms);
  }

  // ---------------------------------------------------------------------------------------
  // The window must hold the images at their size: otherwise a message until it does.

  function needed() {
    var s = OPT.display_size + 8;  // with the 4 px border on each side
    return {width: 2 * s + 48 + 16, height: s + 170};
  }

  function fits() {
    var n = needed();
    return window.innerWidth >= n.width && window.innerHeight >= n.height;
  }

  function showTooSmall(resume) {
    var n = needed();
    epoch += 1;
    accepting = false;
    document.body.removeAttribute("data-accepting");
    $("small-text").textContent = "The images must be shown at their full size (" + OPT.display_size + " \u00d7 " +
      OPT.display_size + " pixels each, side by side), which needs a window of at least " + n.width + " \u00d7 " +
      n.height + " pixels; this one is " + window.innerWidth + " \u00d7 " + window.innerHeight + ". Please make the " +
      "window larger, or use a computer with a larger screen. The experiment goes on by itself when it fits.";
    show("small");
    var my = epoch;
    function check() {
      if (my !== epoch) { window.removeEventListener("resize", check); return; }
      if (fits()) { window.removeEventListener("resize", check); resume(); }
    }
    window.addEventListener("resize", check);
  }

  // ---------------------------------------------------------------------------------------
  // Trials

  function currentTrial() {
    if (state.phase === "practice") { return practiceTrials[state.practiceOrder[state.practiceIndex]]; }
    return mainTrials[state.order[state.mainIndex]];
  }

  function place(side, img) {
    var button = $("stim-" + side);
    var old = button.querySelector("img");
    img.id = "img-" + side;  // at its own pixel size (display_size, or the whole multiple of a small image below it)
    img.width = img.naturalWidth;
    img.height = img.naturalHeight;
    if (old !== img) { button.replaceChild(img, old); }
  }

  function resetPair(trial) {
    var pair = $("pair");
    pair.className = "pair waiting";
    ["left", "right"].forEach(function (side) {
      var b = $("stim-" + side);
      b.className = "stimulus";
      b.disabled = false;
      b.removeAttribute("aria-describedby");
      $("mark-" + side).textContent = "";
    });
    $("fixation").hidden = true;
    $("response-prompt").hidden = true;
    $("feedback").textContent = "";
    $("feedback").className = "feedback";
    pair.setAttribute("data-pair", trial.pair);
    pair.setAttribute("data-practice", trial.practice ? "1" : "0");
  }

  function nextTrial() {
    if (!active) { return; }
    if (!fits()) { return showTooSmall(nextTrial); }
    epoch += 1;
    var trial = currentTrial();
    accepting = false;
    document.body.removeAttribute("data-accepting");
    resetPair(trial);
    setProgress();
    if (document.body.getAttribute("data-screen") !== "waiting") { show("trial"); }  // waiting: until the images come
    updateConnection();
    var record = {pair: trial.pair};
    frame(function (blankAt) {  // the blank interval starts with the frame that shows it
      var my = epoch;
      Promise.all([getImage(trial.left), getImage(trial.right)]).then(function (imgs) {
        if (my !== epoch) { return; }
        place("left", imgs[0]);
        place("right", imgs[1]);
        if (document.body.getAttribute("data-screen") !== "trial") { show("trial"); }
        after(OPT.iti_ms, blankAt, function (ts) {
          record.iti_ms = ts - blankAt;
          if (OPT.fixation_ms > 0) {
            $("fixation").hidden = false;
            record.fixation_on = ts;
            after(OPT.fixation_ms, ts, function (ts2) {
              $("fixation").hidden = true;
              record.fixation_ms = ts2 - ts;
              onset(ts2);
            });
          } else {
            onset(ts);
          }
        });
      }, function (err) {
        if (my !== epoch) { return; }
        var src = images[trial.left] && images[trial.left].ok ? trial.right : trial.left;
        diagnose(src).then(function (what) {
          if (my !== epoch) { return; }
          if (what === "missing") {
            return fail(err.message + ": the file is not in the experiment folder, which is incomplete; ask the " +
                        "experimenter.");
          }
          if (what === "offline") { showWaiting(); }
          later(what === "offline" ? RETRY_MS : 0, nextTrial);
        });
      });
    });

    function onset(ts) {
      var pair = $("pair");
      pair.className = "pair";
      shownAt = ts;
      record.stimulus_on = ts;
      timing.push(record);
      accepting = true;
      document.body.setAttribute("data-accepting", "1");
      if (OPT.stimulus_ms) {
        after(OPT.stimulus_ms, ts, function (ts2) {
          record.stimulus_ms = ts2 - ts;
          if (!accepting) { return; }
          pair.classList.add("masked");
          $("response-prompt").hidden = false;
        });
      }
      if (OPT.max_response_ms) {
        later(OPT.max_response_ms, timedOut);
      }
      preloadAll();
    }
  }

  function showWaiting() {
    $("waiting-text").textContent = "Connection to the experimenter's computer lost: the next images cannot be " +
      "fetched. Please wait; the experiment goes on by itself when the connection is back. Your answers so far " +
      "are kept in this browser.";
    document.body.setAttribute("data-connection", "lost");
    show("waiting");
  }

  function timedOut() {
    if (!accepting) { return; }
    accepting = false;
    document.body.removeAttribute("data-accepting");
    state.timeouts = (state.timeouts || 0) + 1;
    var pair = currentTrial().pair;  // counted per pair: its answer says how often it timed out before
    state.pairTimeouts = state.pairTimeouts || {};
    state.pairTimeouts[pair] = (state.pairTimeouts[pair] || 0) + 1;
    if (state.phase === "practice") {  // the pair comes again at the end of its block
      state.practiceOrder.push(state.practiceOrder.splice(state.practiceIndex, 1)[0]);
    } else {
      state.order.push(state.order.splice(state.mainIndex, 1)[0]);
    }
    save();
    $("pair").classList.add("answered", "masked");
    $("response-prompt").hidden = true;
    var fb = $("feedback");
    fb.className = "feedback late";
    fb.textContent = "\u23f1 Too slow: this pair comes again later. Please answer a little faster.";
    later(FEEDBACK_MS, function () { nextTrial(); });
  }

  function respond(side) {
    if (!accepting || !active) { return; }
    accepting = false;
    epoch += 1;  // stops the stimulus timer and the response deadline
    document.body.removeAttribute("data-accepting");
    var rt = performance.now() - shownAt;
    var trial = currentTrial();
    var practice = state.phase === "practice";
    var record = {
      study: EXP.study, observer: state.observer, session: state.session,
      trial: (practice ? state.practiceIndex : state.mainIndex) + 1, pair: trial.pair, practice: practice,
      left_id: trial.left_id, right_id: trial.right_id, impossible_side: trial.impossible_side,
      response: side, correct: side === trial.impossible_side, rt_ms: Math.round(rt * 10) / 10,
      timestamp: new Date().toISOString(), stimulus_ms: OPT.stimulus_ms || null,
      max_response_ms: OPT.max_response_ms || null, timeouts: (state.pairTimeouts || {})[trial.pair] || 0
    };
    state.records.push(record);
    if (server) { state.pending.push(record); }
    var wait;
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
    $("response-prompt").hidden = true;
    $("stim-" + side).classList.add("chosen");
    if (practice) {  // green and a tick: the image the networks fail on; red and a cross: a wrong choice
      var good = record.correct;
      var right = $("stim-" + trial.impossible_side);
      $("pair").classList.remove("masked");
      right.classList.add("answer-good");
      $("mark-" + trial.impossible_side).textContent = "\u2713 harder";
      if (!good) {
        $("stim-" + side).classList.add("answer-bad");
        $("mark-" + side).textContent = "\u2717 your choice";
      }
      var fb = $("feedback");
      fb.className = "feedback " + (good ? "good" : "bad");
      fb.textContent = good ? "\u2713 Correct! The networks fail on the image on the " + trial.impossible_side + "."
        : "\u2717 Not this time: the networks fail on the image on the " + trial.impossible_side + " (marked \u2713).";
      wait = FEEDBACK_MS;
    } else {
      wait = 0;
    }
    later(wait, function () { route(false); });
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
                         "Continue", function () { requestFullscreen(); nextTrial(); }, true);
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
    var s = typeof v === "boolean" ? (v ? "1" : "0") : v === null || v === undefined ? "" : String(v);
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
    downloaded = true;
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }

  function updateServerStatus() {
    updateConnection();
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

  // The line under the trials while answers wait for the server.
  function updateConnection() {
    var el = $("connection");
    var waiting = server && state && state.pending.length && connectionLost;
    document.body.setAttribute("data-connection", waiting || $("screen-waiting").hidden === false ? "lost" : "ok");
    el.hidden = !waiting;
    if (waiting) {
      el.textContent = "\u26a0 Connection lost: " + state.pending.length + " answer" + (state.pending.length > 1 ? "s" : "") +
        " kept in this browser, sent when the experimenter's computer is back. You can go on.";
    }
  }

  function showEnd() {
    epoch += 1;
    var n = state.records.filter(function (r) { return !r.practice; }).length;
    $("end-text").textContent = "You have completed all " + n + " trials, " + state.observer + ". Thank you for your time.";
    $("download").onclick = download;
    $("retry").onclick = function () { flush(); };
    updateServerStatus();
    show("end");
    $("download").focus();
  }

  // Another observer (from the link, or "start over"): nothing saved is resumed or deleted unasked.
  function showSwitch(newObserver) {
    epoch += 1;
    var old = state.observer;
    var main = state.records.filter(function (r) { return !r.practice; }).length;
    $("switch-title").textContent = newObserver ? "This browser holds another observer\u2019s experiment"
      : "Start over with a new observer?";
    $("switch-text").textContent = "The saved progress here belongs to " + old + " (" + main + " of " +
      mainTrials.length + " trials done" + (state.phase === "end" ? ", finished" : "") + ")" +
      (newObserver ? "; this link is for " + newObserver + "." : ".") + " Starting over deletes " + old +
      "\u2019s progress from this browser" + (server ? " (answers already saved on the experimenter\u2019s computer " +
      "stay there)" : "") + ": download " + old + "\u2019s responses first.";
    $("switch-continue").textContent = state.phase === "end" ? "Back to " + old + "\u2019s end screen"
      : "Continue as " + old;
    $("switch-continue").onclick = function () { route(true); };
    $("switch-download").textContent = "Download " + old + "\u2019s responses (CSV)";
    $("switch-download").onclick = download;
    $("switch-new").textContent = newObserver ? "Start over as " + newObserver : "Start over with a new observer";
    $("switch-new").onclick = function () {
      var unsent = state.records.length && !downloaded && !(server && !state.pending.length && !state.rejected.length);
      if (unsent && !window.confirm(old + "\u2019s " + state.records.length + " answers were not downloaded. Delete " +
                                    "them from this browser anyway?")) { return; }
      if (storage) { storage.removeItem(storageKey()); }
      state = null;
      downloaded = false;
      $("consent").checked = false;
      $("observer").value = newObserver || "";
      showConsent();
    };
    show("switch");
    $("switch-download").focus();
  }

  function restart() { showSwitch(null); }

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
    if (retryTimer || !active) { return; }
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, RETRY_MS);
  }

  function flush() {
    if (!server || !state || flushing || !active || !state.pending.length) { updateServerStatus(); return; }
    flushing = true;
    var restarted = false;
    function step() {
      if (!state || !state.pending.length || !active) { return Promise.resolve(); }
      var rec = state.pending[0];
      return post("api/trial", rec).then(function (res) {
        connectionLost = false;
        if (res.ok) {
          if (state.pending[0] === rec) { state.pending.shift(); state.confirmed += 1; }
          save();
          return step();
        }
        if (res.status === 403 && !restarted) {  // the server does not know the observer (yet)
          restarted = true;
          return startSession().then(step);
        }
        return res.json().catch(function () { return {}; }).then(function (e) {
          state.rejected.push({pair: rec.pair, status: res.status, error: e.error || String(res.status)});
          if (state.pending[0] === rec) { state.pending.shift(); }
          save();
          return step();
        });
      }, function () { connectionLost = true; updateConnection(); scheduleRetry(); });  // offline: try again later
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
  window.addEventListener("resize", function () {
    if (accepting && !fits()) { showTooSmall(nextTrial); }
  });

  // ---------------------------------------------------------------------------------------
  // Start

  function init() {
    if (!EXP || !EXP.trials || !EXP.trials.length) {
      return fail("The list of trials (trials.js) is missing. Open index.html inside the folder that the " +
                  "psychophysics_stimuli rule wrote (results/<study>/psychophysics).");
    }
    readOptions();
    practiceTrials = EXP.trials.filter(function (t) { return t.practice; });
    mainTrials = EXP.trials.filter(function (t) { return !t.practice; });
    storage = openStorage();
    watchTabs();  // claim first: an older tab stops before this one reads the progress
    Promise.all([detectServer(), new Promise(function (r) { window.setTimeout(r, 100); })]).then(function (got) {
      if (!active) { return; }
      server = got[0];
      state = load();
      document.body.setAttribute("data-mode", server ? "server" : "local");
      if (server && state) {
        startSession().then(function () { flush(); });
      }
      if (!state) { return showConsent(); }
      preloadAll();
      var asked = params.get("observer");
      if (asked && asked !== state.observer) { return showSwitch(asked); }
      route(true);
    });
  }

  init();
})();
