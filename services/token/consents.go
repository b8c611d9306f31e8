package token

// MaxListConsents bounds what Store.ListConsents answers for one user: a user consents at most once per
// client, so it is reached only by a tenant with that many clients; the rest are left out.
const MaxListConsents = 1000
