package token

// AssertionKey is the record key of a used client assertion id (Store.UseAssertionID): the client id and the
// jti, NUL-separated, so that two clients' ids never collide and a client id cannot end inside a jti.
func AssertionKey(clientID, jti string) []byte {
	k := make([]byte, 0, len(clientID)+1+len(jti))
	k = append(k, clientID...)
	k = append(k, 0)
	return append(k, jti...)
}
