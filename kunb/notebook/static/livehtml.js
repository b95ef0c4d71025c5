// kunb LiveHTML front end (anywidget ESM): the panels' tables and badges. The kernel sends each new HTML;
// the page writes it into the DOM at most once per animation frame and only while the element is on
// screen (a hidden tab, a collapsed output or a panel scrolled away costs no parsing, style or layout),
// and once more when it comes back into view. The tables' style rules go into the document once per page
// (a <style> in every table would make the browser restyle the whole page at each update).

const CSS_ID = "kunb-live-html-css";

function addStyle(css) {
  if (!css || document.getElementById(CSS_ID)) return;
  const style = document.createElement("style");
  style.id = CSS_ID;
  style.textContent = css;
  document.head.appendChild(style);
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
      el.innerHTML = model.get("value");
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
