// The web chat page: sends what is typed (or the value of a pressed button) to the API as
// JSON and shows the replies. Every text from the server goes into the page as text
// (textContent / createTextNode), never as HTML; links are http(s) only.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) {
    return;
  }
  var api = root.dataset.api;
  var captchaProvider = root.dataset.captcha;
  var transcript = document.getElementById("transcript");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var sendButton = form.querySelector("button[type=submit]");
  var captchaToken = null;
  var busy = false;
  var URL_PATTERN = /https?:\/\/[^\s<>"']+/g;
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
      options.choices.forEach(function (choice) {
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
      item.appendChild(group);
    }
    if (options.error) {
      item.classList.add("error");
    }
    transcript.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

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
          return;
        }
        if (result.answer && result.answer.error && result.answer.error.indexOf("captcha") === 0) {
          delete root.dataset.passed;
          showCaptcha(true);
        }
        addMessage("bot", (result.answer && result.answer.message) || root.dataset.textNetwork, {
          error: true,
        });
      })
      .catch(function () {
        addMessage("bot", root.dataset.textNetwork, { error: true });
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
  input.focus();
})();
