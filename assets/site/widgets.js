// Brings the book's widgets to life on a static page, with no kernel and nothing from outside the site.
//
// MyST-NB writes each notebook's saved widget state into the page (a script of type
// application/vnd.jupyter.widget-state+json) and a small view script where each widget was displayed. The book's
// widgets are anywidgets: their front end (_esm) and styles (_css) travel inside that state. This loader hands
// each one a minimal model (get, set, on, off, save_changes) over its saved state and calls its render(), which is
// all an anywidget needs; the 3.6 MB @jupyter-widgets/html-manager bundle and require.js are not needed.
(function () {
  "use strict";
  var STATE = 'script[type="application/vnd.jupyter.widget-state+json"]';
  var VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

  function StaticModel(state) {
    this.state = Object.assign({}, state);
    this.listeners = {};
  }
  StaticModel.prototype.get = function (name) { return this.state[name]; };
  StaticModel.prototype.set = function (name, value) {
    var old = this.state[name];
    this.state[name] = value;
    if (old !== value) this.emit("change:" + name, value);
  };
  StaticModel.prototype.save_changes = function () {};  // no kernel to tell
  StaticModel.prototype.send = function () {};
  StaticModel.prototype.on = function (event, callback) {
    (this.listeners[event] = this.listeners[event] || []).push(callback);
  };
  StaticModel.prototype.off = function (event, callback) {
    var list = this.listeners[event] || [];
    this.listeners[event] = callback ? list.filter(function (f) { return f !== callback; }) : [];
  };
  StaticModel.prototype.emit = function (event, value) {
    (this.listeners[event] || []).slice().forEach(function (f) { f(value); });
  };

  function note(host, text) {
    var p = document.createElement("p");
    p.className = "xent-widget-note";
    p.textContent = text;
    host.append(p);
  }

  var styled = {};
  function addStyle(key, css) {
    if (!css || styled[key]) return;
    styled[key] = true;
    var style = document.createElement("style");
    style.textContent = css;
    document.head.append(style);
  }

  async function renderView(view, models) {
    var host = document.createElement("div");
    host.className = "xent-widget";
    view.after(host);
    var modelId = JSON.parse(view.textContent).model_id;
    var entry = models[modelId];
    if (!entry || entry.model_module !== "anywidget") {
      note(host, "This widget needs a live Python kernel: open the chapter in Jupyter or Colab to use it.");
      return;
    }
    var state = entry.state;
    addStyle(state._anywidget_id || modelId, state._css);
    var url = URL.createObjectURL(new Blob([state._esm], { type: "text/javascript" }));
    try {
      var module = await import(url);
      var widget = module.default;
      if (typeof widget === "function") widget = await widget();
      var model = new StaticModel(state);
      if (widget.initialize) await widget.initialize({ model: model });
      await widget.render({ model: model, el: host });
      host.dataset.rendered = "true";
    } catch (error) {
      note(host, "The widget could not start in this browser: " + error.message);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  async function renderAll() {
    var stateTag = document.querySelector(STATE);
    if (!stateTag) return;
    var models = JSON.parse(stateTag.textContent).state || {};
    var views = Array.prototype.slice.call(document.querySelectorAll(VIEW));
    await Promise.all(views.map(function (view) { return renderView(view, models); }));
    document.documentElement.dataset.widgetsReady = "true";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", renderAll);
  else renderAll();
})();
