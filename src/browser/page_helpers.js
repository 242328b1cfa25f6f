// Helpers the executor calls as `helpers(op, args)`. Each op returns a plain JSON object. The
// executor keeps this function on the global object of chromiumoxide's isolated world only,
// which a page cannot reach; in the page's own world it is sent along with every call.
(() => {
  // Element refs handed out by `snapshot` (e12 -> the element), kept here in the isolated
  // world's copy of the helpers: the page cannot see or forge them. An element keeps its ref
  // across snapshots of the same document; a new document starts afresh.
  const refs = new Map();
  const refOf = new WeakMap();
  let nextRef = 1;
  const REF_PREFIX = 'aria-ref=';

  return async (op, a) => {
    const describe = (el) => {
      if (!el || !el.tagName) return String(el);
      let s = el.tagName.toLowerCase();
      if (el.id) s += '#' + el.id;
      const cls = typeof el.className === 'string' ? el.className.trim().split(/\s+/) : [];
      for (const c of cls.filter(Boolean).slice(0, 2)) s += '.' + c;
      const frames = el.ownerDocument && el.ownerDocument !== document ? framesOf(el) : [];
      if (frames.length) s += ' in ' + describe(frames[0]);
      return s;
    };
    // ---- The selector engine: one for actions, waits, reads, snapshots and refs. ----
    // A selector is one or more parts joined by `>>>`: every part but the last finds a frame
    // (`iframe`, `frame`) or a shadow host, and the next part is looked for in that frame's
    // document or that host's open shadow root. A part is `text=…` (the deepest elements whose
    // text contains it, case-insensitively; exact when quoted, `text="Sign in"`; a regular
    // expression as `text=/sign\s+in/i`), a ref (`aria-ref=e12`), or CSS, where
    // `:has-text("…")` keeps the elements whose text contains it. CSS is matched in the
    // document's own tree first, then in each open shadow root (outer before inner): a
    // selector reaches into shadow DOM without a path, but its combinators stay in one tree.
    const norm = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();
    const TEXTLESS = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD']);
    const isFrame = (el) => el.tagName === 'IFRAME' || el.tagName === 'FRAME';
    // A frame's document, or null when it is cross-origin.
    const frameDoc = (el) => {
      try {
        return el.contentDocument || null;
      } catch (_) {
        return null;
      }
    };
    // An element's children as rendered: a shadow host's shadow tree, a slot's assigned nodes.
    const kidsOf = (node) => {
      if (node.shadowRoot) return [...node.shadowRoot.childNodes];
      if (node.tagName === 'SLOT') {
        const assigned = node.assignedNodes({ flatten: true });
        if (assigned.length) return assigned;
      }
      return [...node.childNodes];
    };
    // The text an element shows (its shadow tree's, for a host), memoised for one lookup.
    const textOf = (el, memo) => {
      let t = memo.get(el);
      if (t !== undefined) return t;
      if (TEXTLESS.has(el.tagName)) t = '';
      else if (el.tagName === 'INPUT') t = /^(button|submit|reset)$/i.test(el.type) ? el.value : '';
      else {
        t = '';
        for (const n of kidsOf(el)) {
          if (n.nodeType === 3) t += n.data;
          else if (n.nodeType === 1) t += ' ' + textOf(n, memo) + ' ';
        }
      }
      memo.set(el, t);
      return t;
    };
    const unquote = (q) => q.slice(1, -1).replace(/\\(.)/g, '$1');
    // Splits at `sep` where it is outside quotes, brackets and parentheses.
    const splitTop = (s, sep) => {
      const out = [];
      let depth = 0;
      let quote = null;
      let start = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = null;
          continue;
        }
        if (c === '\\') i++;
        else if (c === '"' || c === "'") quote = c;
        else if (c === '(' || c === '[') depth++;
        else if (c === ')' || c === ']') depth--;
        else if (depth === 0 && s.startsWith(sep, i)) {
          out.push(s.slice(start, i));
          i += sep.length - 1;
          start = i + 1;
        }
      }
      out.push(s.slice(start));
      return out;
    };
    // Where the compound selector at the start of `s` ends (at a combinator or a comma).
    const compoundEnd = (s) => {
      let depth = 0;
      let quote = null;
      for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (quote) {
          if (c === '\\') i++;
          else if (c === quote) quote = null;
          continue;
        }
        if (c === '\\') i++;
        else if (c === '"' || c === "'") quote = c;
        else if (c === '(' || c === '[') depth++;
        else if (c === ')' || c === ']') depth--;
        else if (depth === 0 && /[\s>+~,]/.test(c)) return i;
      }
      return s.length;
    };
    const dedupe = (list) => [...new Set(list)];
    const HAS_TEXT = /:has-text\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\)/;
    // CSS with `:has-text(…)`, in one tree (`root`: a document, shadow root or element).
    const cssAll = (root, sel, memo) => {
      const m = HAS_TEXT.exec(sel);
      if (!m) return [...root.querySelectorAll(sel)];
      const alternatives = splitTop(sel, ',');
      if (alternatives.length > 1) return dedupe(alternatives.flatMap((s) => cssAll(root, s.trim(), memo)));
      let before = sel.slice(0, m.index);
      if (!before.trim() || /[\s>+~(]$/.test(before)) before += '*';
      const after = sel.slice(m.index + m[0].length);
      const cut = compoundEnd(after);
      const rest = after.slice(cut).trim();
      const needle = norm(unquote(m[1])).toLowerCase();
      const hits = cssAll(root, before + after.slice(0, cut), memo).filter((el) =>
        norm(textOf(el, memo)).toLowerCase().includes(needle));
      if (!rest) return hits;
      return dedupe(hits.flatMap((el) => cssAll(el, ':scope ' + rest, memo)));
    };
    // The open shadow roots inside a tree, outer before inner, in document order.
    const shadowRootsIn = (root) => {
      const out = [];
      const walk = (r) => {
        const doc = r.ownerDocument || r;
        const walker = doc.createTreeWalker(r, NodeFilter.SHOW_ELEMENT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (n.shadowRoot) {
            out.push(n.shadowRoot);
            walk(n.shadowRoot);
          }
        }
      };
      walk(root);
      return out;
    };
    const textMatcher = (body) => {
      body = body.trim();
      const quoted = /^(["'])([\s\S]*)\1$/.exec(body);
      if (quoted) {
        const want = norm(unquote(body));
        return (t) => norm(t) === want;
      }
      const re = /^\/([\s\S]+)\/([dgimsuy]*)$/.exec(body);
      if (re) {
        const r = new RegExp(re[1], re[2].replace('g', ''));
        return (t) => r.test(norm(t));
      }
      const want = norm(body).toLowerCase();
      return (t) => norm(t).toLowerCase().includes(want);
    };
    // The deepest elements whose text matches, in document order (shadow trees included).
    const textAll = (scope, body, memo) => {
      const match = textMatcher(body);
      const out = [];
      const visitKids = (node) => {
        let below = false;
        for (const k of kidsOf(node)) {
          if (k.nodeType === 1 && !TEXTLESS.has(k.tagName) && visitEl(k)) below = true;
        }
        return below;
      };
      const visitEl = (el) => {
        if (visitKids(el)) return true;
        if (match(textOf(el, memo))) {
          out.push(el);
          return true;
        }
        return false;
      };
      visitKids(scope);
      return out;
    };
    const refElement = (ref) => {
      const el = refs.get(ref)?.deref();
      if (!el || !el.isConnected) throw { unknownRef: true };
      return el;
    };
    const queryScope = (scope, part, memo, first) => {
      const p = part.trim();
      if (!p) throw new SyntaxError('an empty part between `>>>`');
      if (p.startsWith('text=')) return textAll(scope, p.slice(5), memo);
      if (p.startsWith(REF_PREFIX)) return [refElement(p.slice(REF_PREFIX.length))];
      const out = cssAll(scope, p, memo);
      if (first && out.length) return out;
      for (const root of shadowRootsIn(scope)) {
        out.push(...cssAll(root, p, memo));
        if (first && out.length) break;
      }
      return out;
    };
    // Every element `sel` matches (`first`: the first is enough). Throws a SyntaxError (or the
    // page's DOMException) for a selector that does not parse, `{ unknownRef }` and
    // `{ crossOrigin }` (the frame's element) for a path into a frame it cannot enter.
    const resolve = (sel, first) => {
      const memo = new Map();
      const parts = splitTop(sel, '>>>');
      let scopes = [document];
      for (let i = 0; ; i++) {
        const last = i === parts.length - 1;
        const found = [];
        for (const scope of scopes) {
          found.push(...queryScope(scope, parts[i], memo, first && last));
          if (first && last && found.length) break;
        }
        if (last) return dedupe(found);
        scopes = [];
        let closed = null;
        for (const el of dedupe(found)) {
          if (isFrame(el)) {
            const doc = frameDoc(el);
            if (doc) scopes.push(doc);
            else closed = el;
          } else if (el.shadowRoot) scopes.push(el.shadowRoot);
        }
        if (!scopes.length) {
          if (closed) throw { crossOrigin: closed };
          return [];
        }
      }
    };
    const find = (sel) => {
      try {
        return { el: resolve(sel, true)[0] || null };
      } catch (e) {
        if (e && e.unknownRef) return { unknownRef: true };
        if (e && e.crossOrigin) {
          return { invalid: describe(e.crossOrigin) + ' is a cross-origin frame: selectors and `>>>` reach into same-origin frames only' };
        }
        return { invalid: e && e.message ? e.message : String(e) };
      }
    };
    // ---- Frames: geometry of elements inside same-origin frames, in top-level coordinates.
    const winOf = (el) => (el.ownerDocument && el.ownerDocument.defaultView) || window;
    // The frame elements holding `el`, innermost first.
    const framesOf = (el) => {
      const out = [];
      for (let w = winOf(el); w && w.frameElement; w = winOf(w.frameElement)) out.push(w.frameElement);
      return out;
    };
    // Where a frame's viewport starts, in its parent's viewport coordinates.
    const contentOrigin = (f) => {
      const r = f.getBoundingClientRect();
      const cs = winOf(f).getComputedStyle(f);
      return {
        x: r.left + f.clientLeft + (parseFloat(cs.paddingLeft) || 0),
        y: r.top + f.clientTop + (parseFloat(cs.paddingTop) || 0),
      };
    };
    const offsetOf = (el) => {
      let x = 0;
      let y = 0;
      for (const f of framesOf(el)) {
        const o = contentOrigin(f);
        x += o.x;
        y += o.y;
      }
      return { x, y };
    };
    // The element's box in the top-level viewport.
    const topRect = (el) => {
      const r = el.getBoundingClientRect();
      const o = offsetOf(el);
      return {
        x: r.left + o.x, y: r.top + o.y, left: r.left + o.x, top: r.top + o.y,
        right: r.right + o.x, bottom: r.bottom + o.y, width: r.width, height: r.height,
      };
    };
    // What a pointer at a top-level viewport point reaches: through open shadow roots and
    // into same-origin frames.
    const deepHit = (x, y) => {
      let doc = document;
      for (;;) {
        let h = doc.elementFromPoint(x, y);
        while (h && h.shadowRoot) {
          const inner = h.shadowRoot.elementFromPoint(x, y);
          if (!inner || inner === h) break;
          h = inner;
        }
        if (!h || !isFrame(h)) return h;
        const inner = frameDoc(h);
        if (!inner) return h;
        const o = contentOrigin(h);
        x -= o.x;
        y -= o.y;
        doc = inner;
      }
    };
    // The focused element of a document, through open shadow roots.
    const activeIn = (doc) => {
      let a = doc.activeElement;
      while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
      return a;
    };
    const isVisibleHere = (el) => {
      if (!el.isConnected) return false;
      if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true })) return false;
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0;
    };
    // Visible, and so is every frame around it.
    const isVisible = (el) => isVisibleHere(el) && framesOf(el).every(isVisibleHere);
    const isDisabled = (el) =>
      (typeof el.matches === 'function' && el.matches(':disabled')) ||
      !!el.closest('[aria-disabled="true"]');
    // Resolves on the next animation frame; the timer covers pages whose frames are throttled.
    const frame = () =>
      new Promise((resolve) => {
        requestAnimationFrame(() => resolve());
        setTimeout(resolve, 100);
      });
    const inViewport = (r, w = window) =>
      r.bottom > 0 && r.right > 0 && r.top < w.innerHeight && r.left < w.innerWidth;
    const fullyInViewport = (r, w = window) =>
      r.top >= 0 && r.left >= 0 && r.bottom <= w.innerHeight && r.right <= w.innerWidth;
    // The whole element can be seen: in its frame's viewport, and in the top one.
    const fullyShown = (el) =>
      fullyInViewport(el.getBoundingClientRect(), winOf(el)) && fullyInViewport(topRect(el));
    const contains = (el, node) => {
      for (let n = node; n; n = n.parentNode || n.host) if (n === el) return true;
      return false;
    };
    const lookup = (sel) => {
      const f = find(sel);
      if (f.unknownRef) return { state: 'unknown_ref' };
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
        if (!fullyShown(el)) {
          el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
        }
        let r2 = topRect(el);
        if (a.stable) {
          await frame();
          const r1 = topRect(el);
          await frame();
          r2 = topRect(el);
          if (r1.x !== r2.x || r1.y !== r2.y || r1.width !== r2.width || r1.height !== r2.height) {
            return { state: 'unstable', desc };
          }
        }
        const x = r2.left + r2.width / 2;
        const y = r2.top + r2.height / 2;
        if (a.hit) {
          const hit = deepHit(x, y);
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
          if (answer.state === 'ok' || answer.state === 'invalid' || answer.state === 'unknown_ref' ||
              performance.now() >= until) {
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
        const doc = el.ownerDocument;
        const hadFocus = contains(el, activeIn(doc));
        el.focus();
        if (!hadFocus) try {
          if (el.setSelectionRange) el.setSelectionRange(el.value.length, el.value.length);
          else {
            const range = doc.createRange();
            range.selectNodeContents(el);
            range.collapse(false);
            const selection = winOf(el).getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
          }
        } catch (_) {
          // number inputs have no selection API; the caret position does not matter there
        }
        return { state: contains(el, activeIn(doc)) ? 'ok' : 'unfocused', desc: describe(el) };
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
        if (!fullyShown(el)) {
          el.scrollIntoView({ block: 'nearest', inline: 'nearest', behavior: 'instant' });
        }
        await frame();
        const r = topRect(el);
        return {
          state: 'ok', x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,
          vx: r.left, vy: r.top,
        };
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
        const unique = (root, sel) => {
          try {
            return root.querySelectorAll(sel).length === 1;
          } catch (_) {
            return false;
          }
        };
        // A selector that finds the element again: a CSS path in its own tree, after the path
        // to its shadow host or frame and `>>>`.
        const selectorFor = (el) => {
          const root = el.getRootNode();
          const parts = [];
          for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
            if (n.id && unique(root, '#' + CSS.escape(n.id))) {
              parts.unshift('#' + CSS.escape(n.id));
              break;
            }
            let part = n.tagName.toLowerCase();
            const parent = n.parentNode;
            if (!parent || !parent.children) {
              parts.unshift(part);
              break;
            }
            const same = [...parent.children].filter((c) => c.tagName === n.tagName);
            if (same.length > 1) part += ':nth-of-type(' + (same.indexOf(n) + 1) + ')';
            parts.unshift(part);
          }
          const local = parts.join(' > ');
          if (root.nodeType === 11 && root.host) return selectorFor(root.host) + ' >>> ' + local;
          const outer = root.nodeType === 9 && root !== document && root.defaultView && root.defaultView.frameElement;
          return outer ? selectorFor(outer) + ' >>> ' + local : local;
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
        // The rendered tree: shadow trees in place of their hosts' children, and the documents
        // of same-origin frames after their frame's line.
        const all = [];
        const collect = (node) => {
          for (const k of kidsOf(node)) {
            if (k.nodeType !== 1 || TEXTLESS.has(k.tagName)) continue;
            all.push(k);
            if (isFrame(k)) {
              const doc = frameDoc(k);
              if (doc && doc.body) {
                all.push(doc.body);
                collect(doc.body);
              }
            } else collect(k);
          }
        };
        const top = document.body || document.documentElement;
        all.push(top);
        collect(top);
        for (const el of all) {
          const isInteractive = el.matches(interactive);
          const own = ownText(el);
          const isImage = el.tagName === 'IMG' || el.tagName === 'IFRAME';
          if (!isInteractive && !own && !isImage) continue;
          const local = el.getBoundingClientRect();
          if (local.width === 0 || local.height === 0 || !inViewport(local, winOf(el))) continue;
          const r = el.ownerDocument === document ? local : topRect(el);
          if (!inViewport(r) || !isVisible(el)) continue;
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
      // An accessibility-tree outline of the page (or of `selector`'s element), one line per
      // node: `role "name" [ref=e3] [states]: value`, indented by nesting. Interactive elements
      // get refs; elements without a role are left out and their children moved up. At most
      // `max` characters, cut at a line.
      case 'snapshot': {
        let root = document.body || document.documentElement;
        if (a.selector != null) {
          const f = lookup(a.selector);
          if (!f.el) return f;
          root = f.el;
        }
        const max = a.max || 20000;
        // A cross-origin frame's helpers number their refs from `refBase` (set by the executor),
        // so that they never meet the page's.
        if (a.refBase && nextRef < a.refBase) nextRef = a.refBase;
        // Forget the refs of elements that are gone, so the table does not grow with the page.
        for (const [ref, weak] of refs) {
          const el = weak.deref();
          if (!el || !el.isConnected) refs.delete(ref);
        }
        const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);
        const squash = (s) => String(s || '').replace(/\s+/g, ' ').trim();
        const quote = (s) => JSON.stringify(s);
        const skipTags = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'HEAD', 'META', 'LINK']);
        const interactiveRoles = new Set([
          'button', 'link', 'textbox', 'searchbox', 'checkbox', 'radio', 'combobox', 'listbox',
          'slider', 'spinbutton', 'switch', 'tab', 'menuitem', 'menuitemcheckbox', 'menuitemradio',
          'option', 'treeitem',
        ]);
        // Roles shown as one line: their content is their name.
        const leafRoles = new Set([
          'button', 'link', 'textbox', 'searchbox', 'checkbox', 'radio', 'slider', 'spinbutton',
          'switch', 'tab', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'option', 'img',
          'heading', 'treeitem', 'progressbar', 'meter',
        ]);
        const roleOf = (el) => {
          const explicit = (el.getAttribute('role') || '').trim().split(/\s+/)[0];
          if (explicit && explicit !== 'none' && explicit !== 'presentation') return explicit;
          const tag = el.tagName.toLowerCase();
          const type = (el.getAttribute('type') || 'text').toLowerCase();
          switch (tag) {
            case 'a': return el.hasAttribute('href') ? 'link' : '';
            case 'button': case 'summary': return 'button';
            case 'input':
              if (type === 'hidden') return '';
              if (type === 'checkbox' || type === 'radio') return type;
              if (['submit', 'button', 'reset', 'image'].includes(type)) return 'button';
              if (type === 'range') return 'slider';
              if (type === 'number') return 'spinbutton';
              if (type === 'search') return 'searchbox';
              return 'textbox';
            case 'select': return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
            case 'option': return 'option';
            case 'textarea': return 'textbox';
            case 'h1': case 'h2': case 'h3': case 'h4': case 'h5': case 'h6': return 'heading';
            case 'img': return el.getAttribute('alt') === '' ? '' : 'img';
            case 'ul': case 'ol': case 'menu': return 'list';
            case 'li': return 'listitem';
            case 'nav': return 'navigation';
            case 'main': return 'main';
            case 'header': return 'banner';
            case 'footer': return 'contentinfo';
            case 'aside': return 'complementary';
            case 'form': return 'form';
            case 'dialog': return 'dialog';
            case 'table': return 'table';
            case 'tr': return 'row';
            case 'td': return 'cell';
            case 'th': return 'columnheader';
            case 'p': return 'paragraph';
            case 'progress': return 'progressbar';
            case 'meter': return 'meter';
            case 'iframe': return 'iframe';
            case 'fieldset': return 'group';
            case 'article': return 'article';
            case 'section': return el.hasAttribute('aria-label') || el.hasAttribute('aria-labelledby') ? 'region' : '';
            default: return el.isContentEditable && el === el.closest('[contenteditable]') ? 'textbox' : '';
          }
        };
        const isInteractive = (el, role) =>
          interactiveRoles.has(role) ||
          (el.matches('[onclick],[contenteditable=""],[contenteditable="true"]')) ||
          (el.hasAttribute('tabindex') && el.tabIndex >= 0 && role !== '');
        const labelText = (el) => {
          const by = el.getAttribute('aria-labelledby');
          if (by) {
            const root = el.getRootNode();
            const scope = root.getElementById ? root : el.ownerDocument;
            const text = by.split(/\s+/).map((id) => scope.getElementById(id)?.innerText || '').join(' ');
            if (squash(text)) return squash(text);
          }
          const label = el.getAttribute('aria-label');
          if (squash(label)) return squash(label);
          if (el.labels && el.labels.length) {
            const text = [...el.labels].map((l) => l.innerText).join(' ');
            if (squash(text)) return squash(text);
          }
          return '';
        };
        const nameOf = (el, role) => {
          const labelled = labelText(el);
          if (labelled) return labelled;
          const tag = el.tagName;
          if (tag === 'IMG') return squash(el.getAttribute('alt') || el.getAttribute('title'));
          if (tag === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return squash(el.value);
          if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
            return squash(el.getAttribute('placeholder') || el.getAttribute('title'));
          }
          if (leafRoles.has(role) || role === 'cell' || role === 'columnheader') {
            let text = squash(el.innerText);
            if (!text) {
              const img = el.querySelector('img[alt]');
              text = squash(img ? img.getAttribute('alt') : el.getAttribute('title'));
            }
            return text;
          }
          if (['dialog', 'region', 'form', 'navigation', 'group', 'iframe'].includes(role)) {
            return squash(el.getAttribute('title'));
          }
          return '';
        };
        const states = (el, role) => {
          const out = [];
          if (role === 'heading') out.push('level=' + (Number(el.tagName[1]) || Number(el.getAttribute('aria-level')) || 2));
          if (role === 'checkbox' || role === 'radio' || role === 'switch') {
            const checked = el.checked ?? el.getAttribute('aria-checked') === 'true';
            if (checked) out.push('checked');
          }
          if (role === 'option' && (el.selected || el.getAttribute('aria-selected') === 'true')) out.push('selected');
          const expanded = el.getAttribute('aria-expanded');
          if (expanded === 'true' || (el.tagName === 'DETAILS' && el.open)) out.push('expanded');
          if (isDisabled(el)) out.push('disabled');
          if (el.required) out.push('required');
          if (role === 'link' && el.getAttribute('href')) out.push('url=' + el.getAttribute('href'));
          return out;
        };
        const valueOf = (el, role) => {
          if (['textbox', 'searchbox', 'spinbutton', 'slider'].includes(role)) {
            if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') {
              return el.type === 'password' && el.value ? '••••' : el.value;
            }
            if (el.isContentEditable) return squash(el.innerText);
          }
          if (role === 'combobox' && el.tagName === 'SELECT') {
            const o = el.selectedOptions[0];
            return o ? squash(o.label || o.text) : '';
          }
          return '';
        };
        const refFor = (el) => {
          let ref = refOf.get(el);
          if (!ref) {
            ref = 'e' + nextRef++;
            refOf.set(el, ref);
          }
          refs.set(ref, new WeakRef(el));
          return ref;
        };
        // Nodes: { line, children }.
        const childrenOf = (el) => {
          const out = [];
          // Adjacent text (split by inline elements without a role, like <b>) reads as one line.
          const add = (node) => {
            const last = out[out.length - 1];
            if (node.text != null && last && last.text != null) last.text += ' ' + node.text;
            else out.push(node);
          };
          let kids = kidsOf(el);
          // A same-origin frame's document is its content; a cross-origin one is said to be there.
          if (isFrame(el)) {
            const doc = frameDoc(el);
            kids = doc && doc.body ? [...doc.body.childNodes] : [];
            // Tagged with the frame element's ref: the executor fills the frame's own snapshot in.
            if (!doc) out.push({ frame: refFor(el) });
          }
          for (const n of kids) {
            if (n.nodeType === 3) {
              const text = squash(n.textContent);
              if (text) add({ text });
            } else if (n.nodeType === 1) {
              visit(n).forEach(add);
            }
          }
          return out;
        };
        const visit = (el) => {
          if (skipTags.has(el.tagName)) return [];
          if (el.getAttribute('aria-hidden') === 'true') return [];
          if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true }) &&
              winOf(el).getComputedStyle(el).display !== 'contents') return [];
          const role = roleOf(el);
          const interactive = isInteractive(el, role);
          if (!role && !interactive) return childrenOf(el);
          const node = { role: role || 'generic', name: nameOf(el, role), children: [] };
          if (interactive) node.ref = refFor(el);
          node.states = states(el, role);
          node.value = valueOf(el, role);
          if (el.tagName === 'SELECT') {
            node.children = [...el.options].map((o) => ({
              role: 'option', name: squash(o.label || o.text), states: o.selected ? ['selected'] : [], children: [],
            }));
          } else if (!leafRoles.has(role)) {
            node.children = childrenOf(el);
          }
          return [node];
        };
        const lines = [];
        const render = (nodes, depth) => {
          for (const n of nodes) {
            const pad = '  '.repeat(depth) + '- ';
            if (n.frame) {
              lines.push(pad + 'text: (cross-origin frame: its content is not included) [frame=' + n.frame + ']');
              continue;
            }
            if (n.text != null) {
              lines.push(pad + 'text: ' + clip(n.text, 300));
              continue;
            }
            let line = pad + n.role;
            if (n.name) line += ' ' + quote(clip(n.name, 120));
            if (n.ref) line += ' [ref=' + n.ref + ']';
            for (const s of n.states || []) line += ' [' + s + ']';
            // A node whose only child is text reads on one line.
            if (!n.value && n.children.length === 1 && n.children[0].text != null &&
                n.children[0].text !== n.name) {
              lines.push(line + ': ' + clip(n.children[0].text, 300));
              continue;
            }
            if (n.value) line += ': ' + quote(clip(String(n.value), 200));
            else if (n.children.length) line += ':';
            lines.push(line);
            render(n.children, depth + 1);
          }
        };
        render(root === document.body || root === document.documentElement ? childrenOf(root) : visit(root), 0);
        let text = '';
        let shown = 0;
        for (const line of lines) {
          if (text.length + line.length + 1 > max) break;
          text += line + '\n';
          shown++;
        }
        const truncated = shown < lines.length;
        if (truncated) {
          text += '- … ' + (lines.length - shown) + ' more lines not shown (' + shown + ' of ' + lines.length +
            '): raise max_length, or snapshot a part of the page with selector\n';
        }
        return { state: 'ok', url: location.href, title: document.title, snapshot: text, lines: lines.length, truncated };
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
          all = resolve(a.selector, false);
        } catch (e) {
          if (e && e.unknownRef) return { state: 'unknown_ref' };
          const f = find(a.selector);
          return { state: 'invalid', detail: f.invalid || String(e) };
        }
        const items = [];
        for (const el of Array.from(all).slice(0, a.limit)) {
          const text = (el.innerText ?? el.textContent ?? '').replace(/\s+/g, ' ').trim();
          items.push({ element: describe(el), text: text.slice(0, 80), visible: isVisible(el) });
        }
        return { state: 'ok', count: all.length, items };
      }
      // Where a frame's viewport starts in the page's viewport (the frame brought into view).
      case 'frame_origin': {
        const f = lookup(a.selector);
        if (!f.el) return f;
        const el = f.el;
        if (!isFrame(el)) return { state: 'not_frame', desc: describe(el) };
        if (!fullyShown(el)) el.scrollIntoView({ block: 'nearest', inline: 'nearest', behavior: 'instant' });
        const o = offsetOf(el);
        const c = contentOrigin(el);
        const x = o.x + c.x;
        const y = o.y + c.y;
        // With `at` (a point in the frame's viewport): is the frame what a click there reaches?
        if (a.at) {
          const hit = deepHit(x + a.at[0], y + a.at[1]);
          if (!hit) return { state: 'outside', desc: describe(el) };
          if (!contains(el, hit)) return { state: 'covered', desc: describe(el), cover: describe(hit) };
        }
        return { state: 'ok', x, y, sx: scrollX, sy: scrollY };
      }
      // The element itself, for the caller to use by object id.
      case 'element': {
        const f = lookup(a.selector);
        if (!f.el) return f;
        return { state: 'ok', desc: describe(f.el), el: f.el };
      }
      // Is the element an <input type=file>? (It may be hidden: file inputs often are.)
      case 'file_input': {
        const f = lookup(a.selector);
        if (!f.el) return f;
        const el = f.el;
        const ok = el.tagName === 'INPUT' && el.type === 'file';
        const found = { state: ok ? 'ok' : 'not_file', desc: describe(el), multiple: ok && el.multiple, disabled: ok && el.disabled };
        // With `element`, the element itself too: the caller keeps the answer in the page and
        // uses the element by id, instead of finding it again.
        if (a.element) found.el = el;
        return found;
      }
      // What an approval gate needs to know of the element a command would act on, now
      // (no waiting): its visible text, whether it submits a form, whether it is in one.
      case 'facts': {
        const f = lookup(a.selector);
        if (!f.el) return f;
        const el = f.el;
        const tag = el.tagName;
        const type = (el.getAttribute('type') || '').toLowerCase();
        let text;
        if (tag === 'INPUT' && /^(submit|button|reset)$/.test(type)) text = el.value || '';
        else if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
          text = el.value || el.getAttribute('aria-label') || el.getAttribute('title') || '';
        } else text = el.innerText ?? el.textContent ?? '';
        text = String(text).trim();
        if (!text) text = (el.getAttribute('aria-label') || el.getAttribute('title') || '').trim();
        const form = el.form || el.closest('form');
        const submit =
          // A button's missing or unknown type is submit; it submits only inside a form.
          (tag === 'BUTTON' && !/^(button|reset)$/.test(type) && !!form) ||
          (tag === 'INPUT' && (type === 'submit' || type === 'image'));
        return { state: 'ok', text: [...text].slice(0, 500).join(''), submit, inForm: !!form };
      }
      default:
        return { state: 'invalid', detail: 'unknown helper ' + op };
    }

  };
})()
