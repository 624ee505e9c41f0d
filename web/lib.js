// The dashboard's building blocks: preact with htm (no build step), the
// REST client, formatting, and the small components every view uses.
import { h, render } from '/dashboard/vendor/preact.mjs';
import {
    useCallback, useEffect, useRef, useState,
} from '/dashboard/vendor/hooks.mjs';
import htm from '/dashboard/vendor/htm.mjs';

export const html = htm.bind(h);
export { render, useCallback, useEffect, useRef, useState };

// --- the REST client -------------------------------------------------------

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) {
    csrfToken = token;
}

// Called when a request answers 401: the session ended or expired.
export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

export class ApiError extends Error {
    constructor(status, error) {
        super(error.message || `HTTP ${status}`);
        this.status = status;
        this.code = error.code || 'HTTP_' + status;
        this.field = error.field || null;
    }
}

// Sends one request to the API with the session cookie, and the CSRF token
// on anything that changes state. Resolves to {status, json}; rejects with
// an ApiError when the answer is an error object. opts.allow lists error
// statuses whose JSON the caller reads itself (the deploy's 422).
export async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
    }
    if (method !== 'GET' && csrfToken) {
        headers['X-CSRF-Token'] = csrfToken;
    }
    let res;
    try {
        res = await fetch(path, {
            method, headers, credentials: 'same-origin',
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    } catch (e) {
        throw new ApiError(0, {
            code: 'NETWORK', message: 'The server cannot be reached.',
        });
    }
    let json = null;
    try {
        json = await res.json();
    } catch {
        json = null;
    }
    if (res.ok || (opts.allow || []).includes(res.status)) {
        return { status: res.status, json };
    }
    if (res.status === 401 && !opts.noSessionCheck) {
        onUnauthorized();
    }
    throw new ApiError(res.status, (json && json.error) || {
        code: 'HTTP_' + res.status, message: `HTTP ${res.status}`,
    });
}

export const get = (path, opts) => api('GET', path, undefined, opts)
    .then((r) => r.json);

// Every location of the organization, following the pages.
export async function allLocations() {
    const out = [];
    let before = '';
    for (;;) {
        const page = await get('/api/admin/locations?limit=1000' +
                               (before ? '&before=' + before : ''));
        out.push(...page.locations);
        if (page.locations.length < 1000) {
            return out;
        }
        before = page.locations[page.locations.length - 1].id;
    }
}

export function isAdmin(user) {
    return !!user && (user.role === 'org_admin' ||
                      user.role === 'super_admin');
}

// --- routing ---------------------------------------------------------------

const routeListeners = new Set();

export function navigate(path, replace = false) {
    if (replace) {
        history.replaceState(null, '', path);
    } else {
        history.pushState(null, '', path);
    }
    routeListeners.forEach((fn) => fn(location.pathname));
    window.scrollTo(0, 0);
}

export function usePath() {
    const [path, setPath] = useState(location.pathname);
    useEffect(() => {
        const onPop = () => setPath(location.pathname);
        routeListeners.add(setPath);
        window.addEventListener('popstate', onPop);
        return () => {
            routeListeners.delete(setPath);
            window.removeEventListener('popstate', onPop);
        };
    }, []);
    return path;
}

// A link the app follows without reloading (new tabs still work).
export function Link({ href, children, ...rest }) {
    const onClick = (e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey ||
            e.altKey) {
            return;
        }
        e.preventDefault();
        navigate(href);
    };
    return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

// --- polling ---------------------------------------------------------------

// Calls fn now and every ms while the component is mounted; a slow answer
// delays the next call instead of piling requests up.
export function usePoll(fn, ms, deps) {
    useEffect(() => {
        let stopped = false;
        let timer = null;
        const tick = async () => {
            try {
                await fn(() => stopped);
            } finally {
                if (!stopped) {
                    timer = setTimeout(tick, ms);
                }
            }
        };
        tick();
        return () => {
            stopped = true;
            clearTimeout(timer);
        };
    }, deps);
}

// --- formatting ------------------------------------------------------------

const dateFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: 'short', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
});

export function fmtTime(iso) {
    if (!iso) {
        return '—';
    }
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}

export function fmtAgo(iso, now = Date.now()) {
    if (!iso) {
        return 'never';
    }
    const s = Math.round((now - new Date(iso).getTime()) / 1000);
    if (s < 5) {
        return 'just now';
    }
    if (s < 60) {
        return `${s} s ago`;
    }
    if (s < 3600) {
        return `${Math.floor(s / 60)} min ago`;
    }
    if (s < 86400) {
        return `${Math.floor(s / 3600)} h ago`;
    }
    return `${Math.floor(s / 86400)} d ago`;
}

export function Time({ iso }) {
    return iso
        ? html`<time datetime=${iso} title=${iso}>${fmtTime(iso)}</time>`
        : html`<span class="muted">—</span>`;
}

// Compares two SemVer strings by precedence, enough for sorting a list.
export function semverCompare(a, b) {
    const parse = (v) => {
        const [core, pre] = String(v).split('+')[0].split(/-(.*)/s);
        return { nums: core.split('.').map(Number), pre: pre || null };
    };
    const x = parse(a);
    const y = parse(b);
    for (let i = 0; i < 3; i++) {
        if ((x.nums[i] || 0) !== (y.nums[i] || 0)) {
            return (x.nums[i] || 0) - (y.nums[i] || 0);
        }
    }
    if (x.pre === y.pre) {
        return 0;
    }
    if (x.pre === null || y.pre === null) {
        return x.pre === null ? 1 : -1;
    }
    return x.pre.localeCompare(y.pre, undefined, { numeric: true });
}

// --- components ------------------------------------------------------------

export function Badge({ kind = 'neutral', children, title }) {
    return html`<span class=${'badge badge-' + kind} title=${title}>
        ${children}</span>`;
}

const STATUS_KIND = {
    PENDING: 'neutral', DELIVERED: 'info', ACKNOWLEDGED: 'info',
    IN_PROGRESS: 'warn', SUCCEEDED: 'ok', FAILED: 'bad', TIMED_OUT: 'bad',
    CANCELLED: 'muted', SUPERSEDED: 'muted', EXPIRED: 'muted',
};

export function StatusBadge({ status }) {
    return html`<${Badge} kind=${STATUS_KIND[status] || 'neutral'}>
        ${String(status || '').replace('_', ' ')}<//>`;
}

export function OnlineBadge({ node }) {
    if (!node) {
        return html`<${Badge} kind="muted">No hardware<//>`;
    }
    return node.online
        ? html`<${Badge} kind="ok">Online<//>`
        : html`<${Badge} kind="bad">Offline<//>`;
}

export function ErrorBox({ error }) {
    if (!error) {
        return null;
    }
    return html`<div class="error-box" role="alert">
        ${error.message}${error.code ? html` <code>${error.code}</code>` : ''}
    </div>`;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]),' +
    ' select:not([disabled]), textarea:not([disabled]), [tabindex="0"]';

// A modal dialog: the page behind is inert, Tab and Shift+Tab stay inside,
// Escape (or the close button) calls onClose, and focus returns to where
// it was when the dialog closes.
export function Modal({ title, onClose, children, wide, labelId }) {
    const ref = useRef(null);
    const id = labelId || 'dialog-title';
    useEffect(() => {
        const dlg = ref.current;
        const opener = document.activeElement;
        dlg.showModal();
        const first = dlg.querySelector('[autofocus]') ||
            dlg.querySelector('.dialog-body ' + FOCUSABLE.split(',')
                .join(', .dialog-body '));
        if (first) {
            first.focus();
        }
        return () => {
            if (dlg.open) {
                dlg.close();
            }
            if (opener && opener.isConnected) {
                opener.focus();
            }
        };
    }, []);
    const onCancel = (e) => {
        e.preventDefault();
        onClose();
    };
    const onKeyDown = (e) => {
        if (e.key !== 'Tab') {
            return;
        }
        const items = [...ref.current.querySelectorAll(FOCUSABLE)]
            .filter((el) => el.offsetParent !== null);
        if (items.length === 0) {
            return;
        }
        const first = items[0];
        const last = items[items.length - 1];
        if (e.shiftKey && document.activeElement === first) {
            e.preventDefault();
            last.focus();
        } else if (!e.shiftKey && document.activeElement === last) {
            e.preventDefault();
            first.focus();
        }
    };
    return html`<dialog ref=${ref} class=${wide ? 'wide' : ''}
            aria-labelledby=${id} onCancel=${onCancel}
            onKeyDown=${onKeyDown}>
        <div class="dialog-head">
            <h2 id=${id}>${title}</h2>
            <button type="button" class="icon" aria-label="Close"
                onClick=${onClose}>×</button>
        </div>
        <div class="dialog-body">${children}</div>
    </dialog>`;
}

// A labelled form field with its error (from the API) underneath.
export function Field({ id, label, error, hint, children }) {
    return html`<div class=${'field' + (error ? ' has-error' : '')}>
        <label for=${id}>${label}</label>
        ${children}
        ${hint && !error ? html`<p class="hint" id=${id + '-hint'}>
            ${hint}</p>` : ''}
        ${error ? html`<p class="field-error" id=${id + '-error'}
            role="alert">${error}</p>` : ''}
    </div>`;
}
