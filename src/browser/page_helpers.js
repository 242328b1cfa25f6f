// Helpers the executor calls as `helpers(op, args)`. Each op returns a plain JSON object. The
// executor keeps this function on the global object of chromiumoxide's isolated world only,
// which a page cannot reach; in the page's own world it is sent along with every call.
async (op, a) => {
  const describe = (el) => {
    if (!el || !el.tagName) return String(el);
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    const cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/) : [];
    for (const c of cls.filter(Boolean).slice(0, 2)) s += '.' + c;
    return s;
  };
  const find = (sel) => {
    try {
      return { el: document.querySelector(sel) };
    } catch (e) {
      return { invalid: e.message };
    }
  };
  const isVisible = (el) => {
    if (!el.isConnected) return false;
    if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const isDisabled = (el) =>
    (typeof el.matches === 'function' && el.matches(':disabled')) ||
    !!el.closest('[aria-disabled="true"]');
  // Resolves on the next animation frame; the timer covers pages whose frames are throttled.
  const frame = () =>
    new Promise((resolve) => {
      requestAnimationFrame(() => resolve());
      setTimeout(resolve, 100);
    });
  const inViewport = (r) =>
    r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  const fullyInViewport = (r) =>
    r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
  const contains = (el, node) => {
    for (let n = node; n; n = n.parentNode || n.host) if (n === el) return true;
    return false;
  };
  const lookup = (sel) => {
    const f = find(sel);
    if (f.invalid) return { state: 'invalid', detail: f.invalid };
    if (!f.el) return { state: 'missing' };
    return { el: f.el };
  };

  switch (op) {
    // Is the element attached, visible, enabled, (with `stable`) still for two frames and
    // (with `hit`) the element that receives a click at its centre? Scrolls it into view first.
    case 'probe': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      const desc = describe(el);
      if (!isVisible(el)) return { state: 'hidden', desc };
      if (a.enabled && isDisabled(el)) return { state: 'disabled', desc };
      if (!fullyInViewport(el.getBoundingClientRect())) {
        el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
      }
      let r2 = el.getBoundingClientRect();
      if (a.stable) {
        await frame();
        const r1 = el.getBoundingClientRect();
        await frame();
        r2 = el.getBoundingClientRect();
        if (r1.x !== r2.x || r1.y !== r2.y || r1.width !== r2.width || r1.height !== r2.height) {
          return { state: 'unstable', desc };
        }
      }
      const x = r2.left + r2.width / 2;
      const y = r2.top + r2.height / 2;
      if (a.hit) {
        const hit = document.elementFromPoint(x, y);
        if (!hit) return { state: 'outside', desc };
        if (!contains(el, hit)) return { state: 'covered', desc, cover: describe(hit) };
      }
      return { state: 'ok', desc, x, y };
    }
    // Waits in the page, frame by frame, up to `wait` ms: the element is seen the frame it
    // appears, not at the next poll from outside.
    case 'visible': {
      const until = performance.now() + (a.wait || 0);
      for (;;) {
        const f = lookup(a.selector);
        const answer = f.el ? { state: isVisible(f.el) ? 'ok' : 'hidden', desc: describe(f.el) } : f;
        if (answer.state === 'ok' || answer.state === 'invalid' || performance.now() >= until) {
          return answer;
        }
        await frame();
      }
    }
    case 'text': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      const isField = el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT';
      return { state: 'ok', text: isField ? el.value : el.innerText ?? el.textContent };
    }
    case 'html': {
      if (a.selector == null) {
        const dt = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>\n' : '';
        return { state: 'ok', html: dt + document.documentElement.outerHTML };
      }
      const f = lookup(a.selector);
      if (!f.el) return f;
      return { state: 'ok', html: f.el.outerHTML };
    }
    case 'focus': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      const textLike = /^(text|search|email|url|tel|password|number|)$/i;
      const editable =
        el.isContentEditable ||
        (el.tagName === 'TEXTAREA' && !el.readOnly) ||
        (el.tagName === 'INPUT' && textLike.test(el.getAttribute('type') || '') && !el.readOnly);
      if (!editable) return { state: 'not_editable', desc: describe(el) };
      // Type where a person clicking into the field at its end would: after the current text.
      // A field that already has the focus keeps its caret and selection (so Control+A, then
      // type, replaces the text).
      const hadFocus = document.activeElement === el || contains(el, document.activeElement);
      el.focus();
      if (!hadFocus) try {
        if (el.setSelectionRange) el.setSelectionRange(el.value.length, el.value.length);
        else {
          const range = document.createRange();
          range.selectNodeContents(el);
          range.collapse(false);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
        }
      } catch (_) {
        // number inputs have no selection API; the caret position does not matter there
      }
      const active = document.activeElement;
      return { state: active === el || contains(el, active) ? 'ok' : 'unfocused', desc: describe(el) };
    }
    case 'select': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      if (el.tagName !== 'SELECT') return { state: 'not_select', desc: describe(el) };
      const options = [...el.options];
      const wanted = a.value.trim();
      const match =
        options.find((o) => o.value === a.value) ||
        options.find((o) => o.label.trim() === wanted || o.text.trim() === wanted);
      if (!match) {
        return {
          state: 'no_option',
          desc: describe(el),
          options: options.map((o) => (o.value === o.label ? o.value : o.value + ' (' + o.label + ')')),
        };
      }
      match.selected = true;
      el.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
      return { state: 'ok', desc: describe(el), value: match.value, label: match.label };
    }
    case 'scroll': {
      window.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
      // Scroll listeners run on the next frame: let them, so the next command sees their work.
      await frame();
      return { state: 'ok', x: Math.round(scrollX), y: Math.round(scrollY) };
    }
    // The element's box in document coordinates, after bringing it into view.
    case 'rect': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      if (!isVisible(el)) return { state: 'hidden', desc: describe(el) };
      if (!fullyInViewport(el.getBoundingClientRect())) {
        el.scrollIntoView({ block: 'nearest', inline: 'nearest', behavior: 'instant' });
      }
      await frame();
      const r = el.getBoundingClientRect();
      return { state: 'ok', x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height };
    }
    case 'page_size': {
      const d = document.documentElement;
      const b = document.body || d;
      return {
        state: 'ok',
        width: Math.max(d.scrollWidth, b.scrollWidth, innerWidth),
        height: Math.max(d.scrollHeight, b.scrollHeight, innerHeight),
      };
    }
    // A compact list of what is visible in the viewport: enough for an agent to pick its next
    // command, far smaller than the HTML.
    case 'viewport_dom': {
      const limit = a.limit || 250;
      const interactive =
        'a[href],button,input,select,textarea,summary,[role],[onclick],[tabindex],[contenteditable=""],[contenteditable="true"]';
      const unique = (sel) => {
        try {
          return document.querySelectorAll(sel).length === 1;
        } catch (_) {
          return false;
        }
      };
      const selectorFor = (el) => {
        const parts = [];
        for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
          if (n.id && unique('#' + CSS.escape(n.id))) {
            parts.unshift('#' + CSS.escape(n.id));
            break;
          }
          let part = n.tagName.toLowerCase();
          const parent = n.parentElement;
          if (!parent) {
            parts.unshift(part);
            break;
          }
          const same = [...parent.children].filter((c) => c.tagName === n.tagName);
          if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(n) + 1) + ')';
          parts.unshift(part);
        }
        return parts.join(' > ');
      };
      const implicitRole = (el) => {
        const tag = el.tagName.toLowerCase();
        const type = (el.getAttribute('type') || '').toLowerCase();
        if (tag === 'a') return 'link';
        if (tag === 'button' || tag === 'summary') return 'button';
        if (tag === 'input') {
          if (type === 'checkbox' || type === 'radio') return type;
          if (['submit', 'button', 'reset', 'image'].includes(type)) return 'button';
          if (type === 'range') return 'slider';
          return 'textbox';
        }
        if (tag === 'select') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
        if (tag === 'textarea') return 'textbox';
        if (/^h[1-6]$/.test(tag)) return 'heading';
        if (tag === 'img') return 'img';
        if (tag === 'li') return 'listitem';
        if (tag === 'nav') return 'navigation';
        if (tag === 'p') return 'paragraph';
        if (tag === 'td') return 'cell';
        if (tag === 'th') return 'columnheader';
        return '';
      };
      const ownText = (el) =>
        [...el.childNodes]
          .filter((n) => n.nodeType === 3)
          .map((n) => n.textContent)
          .join(' ')
          .replace(/\s+/g, ' ')
          .trim();
      const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
      const elements = [];
      let truncated = false;
      const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_ELEMENT);
      for (let el = walker.currentNode; el; el = walker.nextNode()) {
        if (el.nodeType !== 1 || ['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD'].includes(el.tagName)) continue;
        const isInteractive = el.matches(interactive);
        const own = ownText(el);
        const isImage = el.tagName === 'IMG' || el.tagName === 'IFRAME';
        if (!isInteractive && !own && !isImage) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || !inViewport(r) || !isVisible(el)) continue;
        if (elements.length >= limit) {
          truncated = true;
          break;
        }
        let text = isInteractive ? (el.innerText || '').replace(/\s+/g, ' ').trim() : own;
        if (!text) {
          text = el.value || el.getAttribute('placeholder') || el.getAttribute('aria-label') ||
            el.getAttribute('alt') || el.getAttribute('title') || '';
        }
        const item = {
          tag: el.tagName.toLowerCase(),
          role: el.getAttribute('role') || implicitRole(el),
          text: clip(String(text), 100),
          selector: selectorFor(el),
          box: [Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)],
        };
        if (isDisabled(el)) item.disabled = true;
        if (el.tagName === 'A' && el.getAttribute('href')) item.href = el.getAttribute('href');
        elements.push(item);
      }
      return {
        state: 'ok',
        url: location.href,
        title: document.title,
        viewport: { width: innerWidth, height: innerHeight, scrollX: Math.round(scrollX), scrollY: Math.round(scrollY) },
        elements,
        truncated,
      };
    }
    case 'attribute': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      return { state: 'ok', desc: describe(f.el), value: f.el.getAttribute(a.name) };
    }
    // How many elements match, and a short description of the first `limit`.
    case 'query': {
      let all;
      try {
        all = document.querySelectorAll(a.selector);
      } catch (e) {
        return { state: 'invalid', detail: e.message };
      }
      const items = [];
      for (const el of Array.from(all).slice(0, a.limit)) {
        const text = (el.innerText ?? el.textContent ?? '').replace(/\s+/g, ' ').trim();
        items.push({ element: describe(el), text: text.slice(0, 80), visible: isVisible(el) });
      }
      return { state: 'ok', count: all.length, items };
    }
    // Is the element an <input type=file>? (It may be hidden: file inputs often are.)
    case 'file_input': {
      const f = lookup(a.selector);
      if (!f.el) return f;
      const el = f.el;
      const ok = el.tagName === 'INPUT' && el.type === 'file';
      return { state: ok ? 'ok' : 'not_file', desc: describe(el), multiple: ok && el.multiple, disabled: ok && el.disabled };
    }
    default:
      return { state: 'invalid', detail: 'unknown helper ' + op };
  }
}
