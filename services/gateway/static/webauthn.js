// webauthn.js: the passkey ceremonies of the sign-in and account pages (W3C Web Authentication Level 3).
// Plain JavaScript, no libraries, no inline script: pages load it with <script src> under a
// Content-Security-Policy of script-src 'self'.
//
// Markup contract (the server side stays form-based and CSRF-protected):
//   <form method="post" action="..." data-webauthn="get|create" data-webauthn-json="{options as JSON}">
//   (or data-webauthn-options="OPTIONS-ID" naming a <script type="application/json" id="OPTIONS-ID"> element
//   holding the options: not executed, so CSP allows it)
//     <input type="hidden" name="csrf_token" ...> (and the form's other fields)
//     <input type="hidden" name="webauthn_assertion|webauthn_attestation" data-webauthn-result>
//     <button type="button" data-webauthn-start hidden>...</button>
//     <p data-webauthn-error hidden>...</p>        shown when the ceremony fails or is cancelled
//     <p data-webauthn-unsupported hidden>...</p>  shown when the browser has no WebAuthn
//   </form>
// The button is shown once this script runs in a browser with WebAuthn. Activating it (mouse or keyboard)
// runs navigator.credentials.get or .create with the options (base64url members decoded to ArrayBuffers),
// writes the resulting PublicKeyCredential as JSON (ArrayBuffers encoded base64url, the shape of
// PublicKeyCredential.toJSON) into the hidden field and submits the form.
(function () {
  "use strict";

  function toBuffer(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeDescriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: toBuffer(c.id) };
      if (c.transports) { d.transports = c.transports; }
      return d;
    });
  }

  // requestOptions decodes PublicKeyCredentialRequestOptionsJSON (WebAuthn §5.5).
  function requestOptions(o) {
    o.challenge = toBuffer(o.challenge);
    if (o.allowCredentials) { o.allowCredentials = decodeDescriptors(o.allowCredentials); }
    return o;
  }

  // creationOptions decodes PublicKeyCredentialCreationOptionsJSON (WebAuthn §5.4).
  function creationOptions(o) {
    o.challenge = toBuffer(o.challenge);
    o.user.id = toBuffer(o.user.id);
    if (o.excludeCredentials) { o.excludeCredentials = decodeDescriptors(o.excludeCredentials); }
    return o;
  }

  // credentialJSON encodes a PublicKeyCredential as RegistrationResponseJSON or AuthenticationResponseJSON.
  function credentialJSON(c) {
    var r = c.response;
    var resp = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      resp.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === "function") { resp.transports = r.getTransports(); }
    } else {
      resp.authenticatorData = toBase64url(r.authenticatorData);
      resp.signature = toBase64url(r.signature);
      if (r.userHandle) { resp.userHandle = toBase64url(r.userHandle); }
    }
    var out = { id: c.id, rawId: toBase64url(c.rawId), type: c.type, response: resp,
      clientExtensionResults: typeof c.getClientExtensionResults === "function" ? c.getClientExtensionResults() : {} };
    if (c.authenticatorAttachment) { out.authenticatorAttachment = c.authenticatorAttachment; }
    return JSON.stringify(out);
  }

  function show(form, selector) {
    var el = form.querySelector(selector);
    if (el) { el.hidden = false; }
  }

  function setup(form) {
    var button = form.querySelector("[data-webauthn-start]");
    var result = form.querySelector("[data-webauthn-result]");
    var json = form.getAttribute("data-webauthn-json");
    if (json === null) {
      var source = document.getElementById(form.getAttribute("data-webauthn-options") || "");
      json = source ? source.textContent : null;
    }
    if (!button || !result || !json) { return; }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form, "[data-webauthn-unsupported]");
      return;
    }
    var mode = form.getAttribute("data-webauthn");
    button.hidden = false;
    button.addEventListener("click", function () {
      var err = form.querySelector("[data-webauthn-error]");
      if (err) { err.hidden = true; }
      var options;
      try {
        options = JSON.parse(json);
      } catch (e) {
        show(form, "[data-webauthn-error]");
        return;
      }
      button.disabled = true;
      var call = mode === "create"
        ? navigator.credentials.create({ publicKey: creationOptions(options) })
        : navigator.credentials.get({ publicKey: requestOptions(options) });
      call.then(function (cred) {
        if (!cred) { throw new Error("no credential"); }
        result.value = credentialJSON(cred);
        form.submit();
      }).catch(function () {
        button.disabled = false;
        show(form, "[data-webauthn-error]");
      });
    });
  }

  function start() {
    var forms = document.querySelectorAll("form[data-webauthn]");
    for (var i = 0; i < forms.length; i++) { setup(forms[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
