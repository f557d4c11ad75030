// Live checks of the password rules the server enforces again on submit.
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

  first.addEventListener("input", check);
  second.addEventListener("input", check);
  check();
})();
