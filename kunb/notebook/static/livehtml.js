// kunb LiveHTML front end (anywidget ESM): the panels' tables and badges. The kernel sends each new HTML;
// the page writes it into the DOM at most once per animation frame and only while the element is on
// screen (a hidden tab, a collapsed output or a panel scrolled away costs no parsing, style or layout),
// and once more when it comes back into view. The tables' style rules go into the document once per page
// (a <style> in every table would make the browser restyle the whole page at each update). A new HTML is
// patched into the element: only the text and attributes that changed are written (a quotes table
// changes a few cells a tick), so the browser restyles and lays out those nodes, not a new table.

const CSS_ID = "kunb-live-html-css";

function addStyle(css) {
  if (!css || document.getElementById(CSS_ID)) return;
  const style = document.createElement("style");
  style.id = CSS_ID;
  style.textContent = css;
  document.head.appendChild(style);
}

// Make `target`'s children look like `source`'s (a parsed template): nodes of the same kind and tag are
// kept and their text and attributes updated; where the shape differs, the new nodes replace the old.
function patch(target, source) {
  const old = Array.from(target.childNodes);
  const now = Array.from(source.childNodes);
  if (old.length !== now.length) {
    target.replaceChildren(...now);
    return;
  }
  for (let i = 0; i < now.length; i++) {
    const a = old[i];
    const b = now[i];
    if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) {
      a.replaceWith(b);
    } else if (a.nodeType === Node.ELEMENT_NODE) {
      for (const { name, value } of Array.from(b.attributes)) {
        if (a.getAttribute(name) !== value) a.setAttribute(name, value);
      }
      for (const { name } of Array.from(a.attributes)) {
        if (!b.hasAttribute(name)) a.removeAttribute(name);
      }
      patch(a, b);
    } else if (a.nodeValue !== b.nodeValue) {
      a.nodeValue = b.nodeValue;
    }
  }
}

export default {
  render({ model, el }) {
    el.classList.add("kunb-live-html");
    addStyle(model.get("css"));
    let visible = false;
    let dirty = true;
    let frame = 0;
    let renders = 0;
    const write = () => {
      frame = 0;
      if (!dirty) return;
      const parsed = document.createElement("template");
      parsed.innerHTML = model.get("value");
      patch(el, parsed.content);
      dirty = false;
      renders += 1;
      el.dataset.renders = String(renders);
    };
    const schedule = () => {
      if (visible && dirty && !frame) frame = requestAnimationFrame(write);
    };
    const changed = () => {
      dirty = true;
      schedule();
    };
    // the first content is written at once: an empty element has no size to come into view with
    write();
    model.on("change:value", changed);
    let onScreen = false;
    const update = () => {
      visible = onScreen && document.visibilityState === "visible";
      el.dataset.visible = String(visible);
      schedule();
    };
    const observer = new IntersectionObserver((entries) => {
      onScreen = entries[entries.length - 1].isIntersecting;
      update();
    });
    observer.observe(el);
    document.addEventListener("visibilitychange", update);
    return () => {
      observer.disconnect();
      document.removeEventListener("visibilitychange", update);
      model.off("change:value", changed);
      if (frame) cancelAnimationFrame(frame);
    };
  },
};
