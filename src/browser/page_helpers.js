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
      return s;
    };
    const find = (sel) => {
      if (sel.startsWith(REF_PREFIX)) {
        const el = refs.get(sel.slice(REF_PREFIX.length))?.deref();
        return el && el.isConnected ? { el } : { unknownRef: true };
      }
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
            const text = by.split(/\s+/).map((id) => document.getElementById(id)?.innerText || '').join(' ');
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
          const kids = el.shadowRoot ? [...el.shadowRoot.childNodes] : [...el.childNodes];
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
              getComputedStyle(el).display !== 'contents') return [];
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
        const found = { state: ok ? 'ok' : 'not_file', desc: describe(el), multiple: ok && el.multiple, disabled: ok && el.disabled };
        // With `element`, the element itself too: the caller keeps the answer in the page and
        // uses the element by id, instead of finding it again.
        if (a.element) found.el = el;
        return found;
      }
      default:
        return { state: 'invalid', detail: 'unknown helper ' + op };
    }

  };
})()
