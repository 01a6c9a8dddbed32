#!/usr/bin/env node
// A real OpenID Connect provider standing in for FranceConnect v2 in Parvis's tests: panva's
// OpenID-certified oidc-provider, configured the way FranceConnect publishes its rules (issuer
// under /api/v2, ES256-signed ID token, userinfo answered as a signed JWT, client_secret_post,
// scopes named after the claims, acr eidas1, 30 s codes). Only the login page and the test
// controls are written here; the protocol is the library's. README.md tells the interface.
//
// stdout carries exactly one line, {"issuer":"…"}, once the provider listens; everything else
// (the library's notices included) goes to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Before the library loads: its notices use console.info, which writes to stdout.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');

const PREFIX = '/api/v2'; // FranceConnect's: https://<host>/api/v2/.well-known/openid-configuration
const INTERACTION = `${PREFIX}/interaction/`;
const ACR = 'eidas1'; // the only level FranceConnect (not FranceConnect+) grants
const MIN_STATE_NONCE = 32; // FranceConnect's documentation: state and nonce of 32 characters at least

function fail(message) {
  console.error(`provider.mjs: ${message}`);
  process.exit(2);
}

function list(value) {
  return (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

const env = process.env;
const port = env.FC_PORT === undefined || env.FC_PORT === '' ? 0 : Number(env.FC_PORT);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`FC_PORT is not a port: ${env.FC_PORT}`);
const clientId = env.FC_CLIENT_ID || fail('FC_CLIENT_ID is required');
const clientSecret = env.FC_CLIENT_SECRET || fail('FC_CLIENT_SECRET is required');
const redirectUris = list(env.FC_REDIRECT_URIS);
if (redirectUris.length === 0) fail('FC_REDIRECT_URIS is required (comma-separated)');
const postLogoutRedirectUris = list(env.FC_POST_LOGOUT_REDIRECT_URIS);
const testControls = env.FC_TEST_CONTROLS === '1';

// Test identities, keyed by the login typed on the login page.
const identitiesPath = env.FC_IDENTITIES || join(dirname(fileURLToPath(import.meta.url)), 'identities.json');
let identities;
try {
  identities = JSON.parse(readFileSync(identitiesPath, 'utf8'));
} catch (err) {
  fail(`cannot read identities from ${identitiesPath}: ${err.message}`);
}
const CLAIMS = ['sub', 'given_name', 'family_name', 'birthdate', 'gender', 'birthplace', 'birthcountry', 'email', 'preferred_username'];
const bySub = new Map();
for (const [login, identity] of Object.entries(identities)) {
  for (const claim of CLAIMS) {
    if (typeof identity[claim] !== 'string') fail(`identity ${login}: ${claim} must be a string`);
  }
  bySub.set(identity.sub, identity);
}
if (bySub.size === 0) fail(`no identity in ${identitiesPath}`);

// Test controls (FC_TEST_CONTROLS=1): a forged ID token, and the lifetime of the next codes.
const controls = { tamperIdToken: false, codeTtl: 30 };

// Signing keys, made at start and kept in memory. FranceConnect publishes an ES256 and an RS256
// key in its JWKS and signs with the one the service provider chose; here the client is ES256.
function signingKey(type, options, alg) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}` };
}
const jwks = {
  keys: [
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
  ],
};

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body, status = 200) {
  return {
    status,
    html: `<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – FranceConnect (test)</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#161616}
label{display:block;font-weight:600;margin-top:1rem}
input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;border:1px solid #3a3a3a}
button{font:inherit;margin-top:1rem;padding:.5rem 1rem;background:#000091;color:#fff;border:0}
.erreur{color:#ce0500;font-weight:600}
code{background:#eee;padding:0 .2rem}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`,
  };
}

function loginPage(uid, clientName, error, login = '') {
  const action = `${INTERACTION}${encodeURIComponent(uid)}`;
  const hints = Object.entries(identities).map(([name, identity]) => `<li><code>${escapeHtml(name)}</code> : ${escapeHtml(identity.given_name)} ${escapeHtml(identity.family_name)}</li>`).join('\n');
  const errorHtml = error ? `<p id="login-erreur" class="erreur" role="alert">${escapeHtml(error)}</p>\n` : '';
  const described = error ? ' aria-describedby="login-erreur" aria-invalid="true"' : '';
  return page('Connexion', `<h1>Connexion avec FranceConnect</h1>
<p>Fournisseur d’identité de test pour ${escapeHtml(clientName)}.</p>
${errorHtml}<form method="post" action="${escapeHtml(action)}">
<label for="login">Identifiant</label>
<input id="login" name="login" type="text" autocomplete="username" required value="${escapeHtml(login)}"${described}>
<button type="submit">Se connecter</button>
</form>
<h2>Identités de test</h2>
<ul>
${hints}
</ul>`, error ? 400 : 200);
}

// FranceConnect's own authorize checks that oidc-provider does not make: state, nonce and
// acr_values are required, the openid scope too. Registered as the validator of an extra
// parameter, which oidc-provider runs on every authorization request once the redirect_uri is
// known, so a failure goes back to the client as error=invalid_request.
function checkFranceConnectParams(ctx) {
  const { params } = ctx.oidc;
  for (const name of ['state', 'nonce']) {
    if (typeof params[name] !== 'string' || params[name].length < MIN_STATE_NONCE) {
      throw new errors.InvalidRequest(`${name} is required and must be at least ${MIN_STATE_NONCE} characters long`);
    }
  }
  if (!params.acr_values) throw new errors.InvalidRequest('acr_values is required');
  if (!params.acr_values.split(' ').includes(ACR)) throw new errors.InvalidRequest(`acr_values must include ${ACR}`);
  if (!(params.scope ?? '').split(' ').includes('openid')) throw new errors.InvalidRequest('scope must include openid');
}

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'Parvis',
    application_type: 'web', // http redirect URIs on any host are allowed for the code flow
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    userinfo_signed_response_alg: 'ES256',
  }],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  routes: {
    authorization: '/authorize',
    token: '/token',
    userinfo: '/userinfo',
    jwks: '/jwks',
    end_session: '/session/end',
    revocation: '/token/revocation',
  },
  // FranceConnect names a scope after each claim, plus three groups.
  scopes: ['openid'],
  claims: {
    openid: ['sub'],
    amr: ['amr'], // in the ID token when asked for with the claims parameter, as FranceConnect does
    given_name: ['given_name', 'given_name_array'],
    family_name: ['family_name'],
    birthdate: ['birthdate'],
    gender: ['gender'],
    birthplace: ['birthplace'],
    birthcountry: ['birthcountry'],
    email: ['email'],
    preferred_username: ['preferred_username'],
    profile: ['given_name', 'given_name_array', 'family_name', 'birthdate', 'gender', 'preferred_username'],
    birth: ['birthplace', 'birthcountry'],
    identite_pivot: ['given_name', 'given_name_array', 'family_name', 'birthdate', 'gender', 'birthplace', 'birthcountry'],
  },
  acrValues: [ACR],
  responseTypes: ['code'],
  subjectTypes: ['public'],
  clientAuthMethods: ['client_secret_post', 'private_key_jwt'],
  pkce: { required: () => false },
  enabledJWA: {
    idTokenSigningAlgValues: ['ES256', 'RS256'],
    userinfoSigningAlgValues: ['ES256', 'RS256'],
  },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
  },
  ttl: {
    AccessToken: 60,
    AuthorizationCode: () => controls.codeTtl,
    IdToken: 60,
    Interaction: 600,
    Session: 600,
    Grant: 600,
  },
  extraParams: { idp_hint: checkFranceConnectParams },
  interactions: { url: (ctx, interaction) => `${INTERACTION}${interaction.uid}` },
  clientBasedCORS: () => false,
  async findAccount(ctx, sub) {
    const identity = bySub.get(sub);
    if (!identity) return undefined;
    return {
      accountId: sub,
      async claims() {
        const claims = Object.fromEntries(CLAIMS.map((claim) => [claim, identity[claim]]));
        return { ...claims, given_name_array: identity.given_name.split(' ').filter(Boolean) };
      },
    };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    const items = Object.entries(out).map(([key, value]) => `<li><code>${escapeHtml(key)}</code> : ${escapeHtml(value)}</li>`).join('\n');
    ctx.body = page('Erreur', `<h1>Une erreur est survenue</h1>\n<ul>\n${items}\n</ul>`).html;
  },
};

// RP-initiated logout: oidc-provider always answers /session/end with a form that confirms
// the logout (CSRF token bound to the session cookie). Like FranceConnect's own page, this
// one submits itself at once; without JavaScript, its button posts logout=yes.
async function logoutSource(ctx, form) {
  const button = '<button type="submit" name="logout" value="yes">Se déconnecter</button>';
  ctx.body = page('Déconnexion', `<h1>Déconnexion de FranceConnect</h1>
<p>Vous allez être déconnecté de FranceConnect.</p>
${form.replace('</form>', `${button}</form>`)}
<script>document.getElementById('op.logoutForm').querySelector('button[name=logout]').click();</script>`).html;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Déconnexion', '<h1>Déconnexion de FranceConnect</h1>\n<p>Vous êtes bien déconnecté, vous pouvez fermer votre navigateur.</p>').html;
}

function readBody(req, limit = 16 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res, { status, html }) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function sendJson(res, status, value) {
  if (value === undefined) {
    res.writeHead(status);
    res.end();
  } else {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  }
}

let provider;

// The grant FranceConnect gives without asking: every scope and claim the client requested.
async function grantRequested(details, accountId) {
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
    if (grant && grant.accountId !== accountId) grant = undefined;
  }
  grant ??= new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  if (details.params.claims) {
    const requested = JSON.parse(details.params.claims);
    grant.addOIDCClaims([...Object.keys(requested.id_token ?? {}), ...Object.keys(requested.userinfo ?? {})]);
  }
  return grant.save();
}

async function interaction(req, res, uid) {
  if (req.method !== 'GET' && req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, POST' });
    res.end();
    return;
  }
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    details = undefined;
  }
  if (!details || details.uid !== uid) {
    send(res, page('Erreur', '<h1>Connexion impossible</h1>\n<p class="erreur" role="alert">Cette demande de connexion est introuvable ou a expiré. Recommencez depuis le service.</p>', 400));
    return;
  }
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName ?? details.params.client_id;

  if (details.prompt.name === 'consent') {
    // Already logged in: FranceConnect asks nothing more.
    const grantId = await grantRequested(details, details.session.accountId);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET') {
    send(res, loginPage(uid, clientName));
    return;
  }
  const login = (new URLSearchParams(await readBody(req)).get('login') ?? '').trim();
  const identity = Object.hasOwn(identities, login) ? identities[login] : undefined;
  if (!identity) {
    const error = login ? `Identifiant inconnu : « ${login} ». Choisissez l’une des identités de test.` : 'Saisissez un identifiant.';
    send(res, loginPage(uid, clientName, error, login));
    return;
  }
  const grantId = await grantRequested(details, identity.sub);
  await provider.interactionFinished(req, res, {
    login: { accountId: identity.sub, acr: ACR, amr: ['pwd'], remember: false },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function testControl(req, res, path) {
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST' });
    res.end();
    return;
  }
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch {
    sendJson(res, 400, { error: 'body must be JSON' });
    return;
  }
  if (path === '/__test/tamper') {
    if (typeof body?.id_token !== 'boolean') {
      sendJson(res, 400, { error: 'expected {"id_token": true|false}' });
      return;
    }
    controls.tamperIdToken = body.id_token;
  } else if (path === '/__test/code-ttl') {
    if (!Number.isInteger(body?.seconds) || body.seconds < 1) {
      sendJson(res, 400, { error: 'expected {"seconds": N} with N a positive integer' });
      return;
    }
    controls.codeTtl = body.seconds;
  } else {
    sendJson(res, 404, { error: 'unknown test control' });
    return;
  }
  console.error(`provider.mjs: test control ${path} ${JSON.stringify(body)}`);
  sendJson(res, 204);
}

// The ID token's payload changed without signing it again: its signature no longer verifies.
function forge(idToken) {
  const [header, payload, signature] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const other = [...bySub.keys()].find((sub) => sub !== claims.sub);
  claims.sub = other ?? `${claims.sub.startsWith('0') ? '1' : '0'}${claims.sub.slice(1)}`;
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

let callback;

async function handle(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname.startsWith('/__test/')) {
    if (testControls) {
      await testControl(req, res, pathname);
    } else {
      sendJson(res, 404, { error: 'test controls are off (FC_TEST_CONTROLS=1)' });
    }
    return;
  }
  if (pathname.startsWith(INTERACTION)) {
    const uid = pathname.slice(INTERACTION.length).replace(/\/$/, '');
    if (/^[A-Za-z0-9_-]+$/.test(uid)) {
      await interaction(req, res, uid);
      return;
    }
  }
  if (pathname === PREFIX || pathname.startsWith(`${PREFIX}/`)) {
    // Mounted under the issuer's path: oidc-provider reads the mount point from originalUrl.
    req.originalUrl = req.url;
    const rest = req.url.slice(PREFIX.length);
    req.url = rest.startsWith('/') ? rest : `/${rest}`;
    callback(req, res);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not found\n');
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('provider.mjs: request failed:', err);
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    }
    res.end();
  });
});
server.keepAliveTimeout = 5000;

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}${PREFIX}`;
  provider = new Provider(issuer, configuration);
  provider.use(async (ctx, next) => {
    await next();
    if (controls.tamperIdToken && ctx.method === 'POST' && ctx.path === '/token'
      && ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
      ctx.body = { ...ctx.body, id_token: forge(ctx.body.id_token) };
    }
  });
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error', 'revocation.error']) {
    provider.on(event, (ctx, err) => {
      console.error(`provider.mjs: ${event}: ${err?.error ?? err?.name} ${err?.error_description ?? err?.message ?? ''}`);
    });
  }
  callback = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
