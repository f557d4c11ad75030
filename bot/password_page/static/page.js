// Live checks of the password rules the server enforces again on submit, the show-password
// button, and a refusal from the last try cleared as soon as the password is typed again.
(function () {
  "use strict";
  var form = document.getElementById("password-form");
  if (!form) {
    return;
  }
  var min = parseInt(form.getAttribute("data-min"), 10);
  var max = parseInt(form.getAttribute("data-max"), 10);
  var first = document.getElementById("new-password");
  var second = document.getElementById("confirm-password");
  var rules = document.getElementById("rules");
  var met = rules.getAttribute("data-met-text");
  var unmet = rules.getAttribute("data-unmet-text");

  function length(value) {
    return Array.from(value).length;
  }

  function mark(name, ok) {
    var item = rules.querySelector('[data-rule="' + name + '"]');
    if (!item) {
      return;
    }
    var value = ok ? "true" : "false";
    if (item.getAttribute("data-met") === value) {
      return;
    }
    item.setAttribute("data-met", value);
    item.querySelector(".visually-hidden").textContent = " " + (ok ? met : unmet);
  }

  function check() {
    var size = length(first.value);
    mark("length", size >= min && size <= max);
    mark("match", first.value.length > 0 && first.value === second.value);
  }

  // The server's refusal is about the password that was sent: once either box changes it no
  // longer applies, and would only confuse (a screen reader would read it again, too).
  function clearError() {
    var error = document.getElementById("form-error");
    if (!error) {
      return;
    }
    error.parentNode.removeChild(error);
    var described = (first.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter(function (id) {
        return id && id !== "form-error";
      });
    first.setAttribute("aria-describedby", described.join(" "));
  }

  var toggle = document.getElementById("show-password");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var shown = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", shown ? "true" : "false");
      [first, second].forEach(function (field) {
        field.type = shown ? "text" : "password";
      });
    });
    // Never send the form with the password shown: a browser may keep a text field's value.
    form.addEventListener("submit", function () {
      toggle.setAttribute("aria-pressed", "false");
      first.type = "password";
      second.type = "password";
    });
    toggle.hidden = false;
  }

  [first, second].forEach(function (field) {
    field.addEventListener("input", check);
    field.addEventListener("input", clearError);
  });
  check();
})();
