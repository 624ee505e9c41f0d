// The dashboard's entry: the session, the page frame and the routes.
import {
    ApiError, Link, api, html, isAdmin, navigate, render, setCsrfToken,
    setUnauthorizedHandler, useEffect, usePath, useState,
} from './lib.js';
import { ReleasesView } from './releases.js';
import { ReleaseView } from './release.js';
import { FleetView } from './fleet.js';
import { AuditView } from './audit.js';

function LoginView({ onSignedIn }) {
    const [email, setEmail] = useState('');
    const [password, setPassword] = useState('');
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
            const { json } = await api('POST', '/api/auth/login',
                                       { email, password },
                                       { noSessionCheck: true });
            onSignedIn(json);
        } catch (err) {
            setError(err.status === 401
                ? 'Wrong email or password.' : err.message);
            setBusy(false);
        }
    };
    return html`<main class="login">
        <form class="card" onSubmit=${submit} noValidate
            aria-labelledby="login-title">
            <h1 id="login-title">Mission Control</h1>
            <p class="muted">Sign in to manage releases and deployments.</p>
            <div class="field">
                <label for="login-email">Email</label>
                <input id="login-email" type="email" autocomplete="username"
                    autofocus value=${email}
                    onInput=${(e) => setEmail(e.target.value)} />
            </div>
            <div class="field">
                <label for="login-password">Password</label>
                <input id="login-password" type="password"
                    autocomplete="current-password" value=${password}
                    onInput=${(e) => setPassword(e.target.value)} />
            </div>
            ${error ? html`<div class="error-box" role="alert">${error}</div>`
                    : ''}
            <button type="submit" class="primary" disabled=${busy}>
                ${busy ? 'Signing in…' : 'Sign in'}</button>
        </form>
    </main>`;
}

const NAV = [
    { href: '/dashboard/releases', label: 'Releases' },
    { href: '/dashboard/fleet', label: 'Fleet' },
    { href: '/dashboard/audit', label: 'Audit log', admin: true },
];

function Header({ session, path, onSignOut }) {
    const { user, organization } = session;
    return html`<header class="top">
        <${Link} class="brand" href="/dashboard/releases">Mission Control<//>
        <nav aria-label="Main">
            ${NAV.filter((n) => !n.admin || isAdmin(user)).map((n) => html`
                <${Link} href=${n.href}
                    aria-current=${path.startsWith(n.href) ? 'page' : null}>
                    ${n.label}<//>`)}
        </nav>
        <div class="account"><div class="who" data-testid="who">
            <span class="who-name" title=${user.email}>
                ${user.name || user.email}</span>
            <span class="who-org">${(organization ? organization.name + ' · '
                                                  : '') +
                                    user.role.replace('_', ' ')}</span>
        </div>
        <button type="button" onClick=${onSignOut}>Sign out</button></div>
    </header>`;
}

function NotFound() {
    return html`<main class="page"><h1>Not found</h1>
        <p>No such page. <${Link} href="/dashboard/releases">
        Go to the releases<//>.</p></main>`;
}

function Routes({ path, session }) {
    let m = path.match(/^\/dashboard\/releases\/([^/]+)\/?$/);
    if (m) {
        return html`<${ReleaseView} key=${m[1]} id=${decodeURIComponent(m[1])}
            session=${session} />`;
    }
    if (/^\/dashboard\/releases\/?$/.test(path)) {
        return html`<${ReleasesView} session=${session} />`;
    }
    if (/^\/dashboard\/fleet\/?$/.test(path)) {
        return html`<${FleetView} session=${session} />`;
    }
    if (/^\/dashboard\/audit\/?$/.test(path)) {
        return html`<${AuditView} session=${session} />`;
    }
    return html`<${NotFound} />`;
}

function App() {
    // undefined: asking the server; null: signed out.
    const [session, setSession] = useState(undefined);
    const [bootError, setBootError] = useState(null);
    const path = usePath();

    const signedIn = (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
    };
    useEffect(() => {
        setUnauthorizedHandler(() => {
            setCsrfToken(null);
            setSession(null);
        });
        api('GET', '/api/auth/me', undefined, { noSessionCheck: true })
            .then((r) => signedIn(r.json))
            .catch((err) => {
                if (err instanceof ApiError && err.status === 401) {
                    setSession(null);
                } else {
                    setBootError(err);
                }
            });
    }, []);
    useEffect(() => {
        if (/^\/dashboard\/?$/.test(path) || !path.startsWith('/dashboard')) {
            navigate('/dashboard/releases', true);
        }
    }, [path]);

    const signOut = async () => {
        try {
            await api('POST', '/api/auth/logout');
        } catch {
            // The session is gone either way.
        }
        setCsrfToken(null);
        setSession(null);
    };

    if (bootError) {
        return html`<main class="page"><div class="error-box" role="alert">
            Mission Control does not answer: ${bootError.message}</div></main>`;
    }
    if (session === undefined) {
        return html`<p class="boot">Loading Mission Control…</p>`;
    }
    if (session === null) {
        return html`<${LoginView} onSignedIn=${signedIn} />`;
    }
    return html`<${Header} session=${session} path=${path}
            onSignOut=${signOut} />
        <${Routes} path=${path} session=${session} />`;
}

render(html`<${App} />`, document.getElementById('app'));
