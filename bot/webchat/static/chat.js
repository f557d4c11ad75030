// The web chat page: sends what is typed (or the value of a pressed button) to the API as
// JSON and shows the replies. Every text from the server goes into the page as text
// (textContent / createTextNode), never as HTML; links are http(s) only; a reply's picture
// (an authenticator app's QR code) only an inline PNG, never one fetched from elsewhere.
//
// Each answer says what the reset waits for (`awaiting`): while a code is awaited the input
// asks for digits (and offers the code the phone received) and `resend` / `other` are
// buttons; while the password page is open elsewhere, the page asks every few seconds
// whether it is done and shows its result.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) {
    return;
  }
  var api = root.dataset.api;
  var outcomeApi = root.dataset.outcome;
  var pollEvery = parseInt(root.dataset.pollMs, 10) || 3000;
  var POLL_AT_MOST_EVERY = 60000;
  var captchaProvider = root.dataset.captcha;
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var sendButton = form.querySelector("button[type=submit]");
  var start = document.getElementById("start");
  var startButton = document.getElementById("start-button");
  var quick = document.getElementById("quick");
  var captchaToken = null;
  var busy = false;
  var turn = 0; // counts messages sent, so an outcome asked for before one is not shown
  var awaiting = "";
  var poll = { on: false, timer: null, asking: false, delay: pollEvery };
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
  var INLINE_PNG = /^data:image\/png;base64,[A-Za-z0-9+/]+={0,2}$/;
  var TRAILING = /[.,;:!?)\]}'"]+$/;

  window.ssprCaptchaSolved = function (token) {
    captchaToken = token;
    var prompt = document.getElementById("captcha-prompt");
    if (prompt) {
      prompt.hidden = true;
    }
  };
  window.ssprCaptchaExpired = function () {
    captchaToken = null;
  };

  function showCaptcha(visible) {
    ["captcha", "captcha-prompt"].forEach(function (id) {
      var element = document.getElementById(id);
      if (element) {
        element.hidden = !visible;
      }
    });
  }

  function resetCaptcha() {
    captchaToken = null;
    var widgets = [window.turnstile, window.hcaptcha, window.grecaptcha];
    for (var i = 0; i < widgets.length; i++) {
      if (widgets[i] && typeof widgets[i].reset === "function") {
        try {
          widgets[i].reset();
        } catch (ignored) {
          // the widget was not rendered yet
        }
        return;
      }
    }
  }

  function safeLink(candidate) {
    try {
      var url = new URL(candidate);
      if (url.protocol === "https:" || url.protocol === "http:") {
        return url.href;
      }
    } catch (ignored) {
      // not a URL after all: shown as text
    }
    return null;
  }

  // The text with its http(s) URLs as links; everything else as text nodes.
  function withLinks(parent, text) {
    var last = 0;
    var match;
    URL_PATTERN.lastIndex = 0;
    while ((match = URL_PATTERN.exec(text)) !== null) {
      var found = match[0].replace(TRAILING, "");
      var href = safeLink(found);
      if (href === null || found.length === 0) {
        continue;
      }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var link = document.createElement("a");
      link.href = href;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      link.textContent = found;
      link.title = root.dataset.textLink_note || "";
      parent.appendChild(link);
      last = match.index + found.length;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function addMessage(who, text, options) {
    options = options || {};
    var item = document.createElement("div");
    item.className = "message " + who + (options.sensitive ? " sensitive" : "");
    var speaker = document.createElement("span");
    speaker.className = "speaker";
    speaker.textContent = who === "user" ? root.dataset.textYou : root.dataset.textAssistant;
    item.appendChild(speaker);
    var body = document.createElement("p");
    body.className = "text";
    withLinks(body, text);
    item.appendChild(body);
    if (options.image && INLINE_PNG.test(options.image.src)) {
      var picture = document.createElement("img");
      picture.className = "picture";
      picture.alt = options.image.alt;
      picture.src = options.image.src;
      item.appendChild(picture);
    }
    var href = options.link ? safeLink(options.link.url) : null;
    if (href !== null) {
      var button = document.createElement("a");
      button.className = "link-button";
      button.href = href;
      button.rel = "noopener noreferrer";
      button.target = "_blank";
      button.textContent = options.link.label;
      item.appendChild(button);
      var opens = document.createElement("p");
      opens.className = "note";
      opens.textContent = root.dataset.textLink_note;
      item.appendChild(opens);
    }
    if (options.sensitive) {
      var note = document.createElement("p");
      note.className = "note";
      note.textContent = root.dataset.textSensitive_note;
      item.appendChild(note);
    }
    if (options.choices && options.choices.length) {
      var group = document.createElement("div");
      group.className = "choices";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", root.dataset.textChoices);
      addButtons(group, options.choices);
      item.appendChild(group);
    }
    if (options.error) {
      item.classList.add("error");
    }
    transcript.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  // One button per choice; pressing one sends its value and disables the group.
  function addButtons(group, choices) {
    choices.forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.label;
      button.addEventListener("click", function () {
        if (busy) {
          return;
        }
        group.querySelectorAll("button").forEach(function (b) {
          b.disabled = true;
        });
        send(choice.value, choice.label);
      });
      group.appendChild(button);
    });
  }

  // The commands offered as buttons while a code is awaited: one that was sent can be sent
  // again; one from the authenticator app cannot.
  var RESEND = { value: "resend", label: root.dataset.textResend };
  var OTHER = { value: "other", label: root.dataset.textOther };
  var QUICK = { code: [RESEND, OTHER], app_code: [OTHER] };

  // What the reset waits for: the keyboard, the quick buttons, and asking after the page.
  function expect(next) {
    awaiting = next || "";
    var code = Object.prototype.hasOwnProperty.call(QUICK, awaiting);
    input.setAttribute("inputmode", code ? "numeric" : "text");
    input.setAttribute("autocomplete", code ? "one-time-code" : "off");
    while (quick.firstChild) {
      quick.removeChild(quick.firstChild);
    }
    if (code) {
      addButtons(quick, QUICK[awaiting]);
    }
    quick.hidden = !code;
    if (awaiting === "page") {
      startPolling();
    } else {
      stopPolling();
    }
  }

  function startPolling() {
    if (!poll.on) {
      poll.on = true;
      poll.delay = pollEvery;
      askLater(poll.delay);
    }
  }

  function stopPolling() {
    poll.on = false;
    clearTimeout(poll.timer);
    poll.timer = null;
  }

  function askLater(delay) {
    clearTimeout(poll.timer);
    poll.timer = setTimeout(askOutcome, delay);
  }

  // Has the password page ended the reset? Never while a message is on its way (its answer
  // says what comes next), and an answer that crossed a message is dropped.
  function askOutcome() {
    poll.timer = null;
    if (!poll.on || poll.asking) {
      return;
    }
    if (busy) {
      askLater(poll.delay);
      return;
    }
    var asked = turn;
    poll.asking = true;
    fetch(outcomeApi, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          return { status: response.status, answer: answer };
        });
      })
      .then(function (result) {
        if (!poll.on) {
          return;
        }
        if (asked !== turn) {
          if (poll.timer === null) {
            askLater(poll.delay);
          }
          return;
        }
        if (result.status !== 200) {
          poll.delay = Math.min(poll.delay * 2, POLL_AT_MOST_EVERY);
          askLater(poll.delay);
          return;
        }
        if (result.answer.waiting) {
          poll.delay = pollEvery;
          askLater(poll.delay);
          return;
        }
        expect("");
        (result.answer.replies || []).forEach(function (reply) {
          addMessage("bot", reply.text, reply);
        });
      })
      .catch(function () {
        poll.delay = Math.min(poll.delay * 2, POLL_AT_MOST_EVERY);
        askLater(poll.delay);
      })
      .finally(function () {
        poll.asking = false;
      });
  }

  // Back from the password page's tab: ask at once rather than at the next tick.
  document.addEventListener("visibilitychange", function () {
    if (poll.on && document.visibilityState === "visible") {
      askLater(0);
    }
  });

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    transcript.setAttribute("aria-busy", value ? "true" : "false");
  }

  function send(text, shown) {
    if (captchaProvider !== "none" && captchaToken === null && !root.dataset.passed) {
      addMessage("bot", root.dataset.textCaptcha_prompt, { error: true });
      return;
    }
    start.hidden = true;
    turn += 1;
    addMessage("user", shown || text);
    var body = { text: text };
    if (captchaToken !== null) {
      body.captcha_token = captchaToken;
    }
    setBusy(true);
    fetch(api, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          return { status: response.status, answer: answer };
        });
      })
      .then(function (result) {
        if (captchaToken !== null) {
          resetCaptcha(); // a token is good once
        }
        if (result.status === 200) {
          root.dataset.passed = "yes";
          showCaptcha(false); // this conversation passed: no new check needed
          (result.answer.replies || []).forEach(function (reply) {
            addMessage("bot", reply.text, reply);
          });
          expect(result.answer.awaiting);
          return;
        }
        if (result.answer && result.answer.error && result.answer.error.indexOf("captcha") === 0) {
          delete root.dataset.passed;
          showCaptcha(true);
        }
        addMessage("bot", (result.answer && result.answer.message) || root.dataset.textNetwork, {
          error: true,
        });
        expect(awaiting); // nothing changed: the same buttons again
      })
      .catch(function () {
        addMessage("bot", root.dataset.textNetwork, { error: true });
        expect(awaiting);
      })
      .finally(function () {
        setBusy(false);
        input.focus();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) {
      return;
    }
    input.value = "";
    send(text);
  });
  startButton.addEventListener("click", function () {
    if (!busy) {
      send(startButton.dataset.value, startButton.textContent);
    }
  });
  start.hidden = false;
  input.focus();
})();
