package authn

import "net/http"

// Error is a verification failure: the status and body a client is sent.
// Compare with errors.Is against the Err values below: every failure this
// package returns is one of them, by identity.
type Error struct {
	// Status is the HTTP status the client is answered with.
	Status int
	// Msg is the response body. Several errors share a body (our own
	// checks beyond Envoy's all answer "Jwt verification fails").
	Msg string
	// Reason is a longer explanation for logs only; it is never sent to
	// the client and never contains the token.
	Reason string
}

// Error returns the body the client is sent.
func (e *Error) Error() string { return e.Msg }

func newError(status int, msg, reason string) *Error {
	return &Error{Status: status, Msg: msg, Reason: reason}
}

const (
	msgVerificationFails = "Jwt verification fails"
	msgBadFormat         = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
	unauthorized         = http.StatusUnauthorized
)

// Verification failures, worded as Envoy's jwt_authn filter words them.
// The status is 401 unless noted.
var (
	// ErrMissing: no token in any of the places the providers look.
	ErrMissing = newError(unauthorized, "Jwt is missing", "no token found")

	// Parse errors, in the order the token is parsed.

	// ErrBadFormat: the token is not three dot-separated segments.
	ErrBadFormat = newError(unauthorized, msgBadFormat, "token does not have 3 segments")
	// ErrNotOneToken: the place a token was taken from holds more than
	// one token, or a token and more words: a header value such as
	// "Bearer a b" or "Bearer a, Bearer b", or a query parameter or cookie
	// value with a space, tab or comma in it. Nothing in it is verified.
	// Same body as ErrBadFormat (what was sent is not a token in the form
	// of Header.Payload.Signature); a distinct value so logs tell them
	// apart.
	ErrNotOneToken = newError(unauthorized, msgBadFormat, "more than one token, or a token and more words, in one header value, query parameter or cookie")
	// ErrHeaderBase64: the header segment is not base64url.
	ErrHeaderBase64 = newError(unauthorized, "Jwt header is an invalid Base64url encoded", "header segment is not base64url")
	// ErrHeaderJSON: the header is not a JSON object.
	ErrHeaderJSON = newError(unauthorized, "Jwt header is an invalid JSON", "header is not a JSON object")
	// ErrAlgMissing: the header has no alg, or alg is not a string.
	ErrAlgMissing = newError(unauthorized, "Jwt header [alg] field is required and must be a string", "alg missing or not a string")
	// ErrAlgUnsupported: alg names an algorithm we do not verify ("none"
	// included, always).
	ErrAlgUnsupported = newError(unauthorized, "Jwt header [alg] is not supported", "alg not supported")
	// ErrKidNotString: the header's kid is present but not a string.
	ErrKidNotString = newError(unauthorized, "Jwt header [kid] field is not a string", "kid not a string")
	// ErrPayloadBase64: the payload segment is not base64url.
	ErrPayloadBase64 = newError(unauthorized, "Jwt payload is an invalid Base64url encoded", "payload segment is not base64url")
	// ErrPayloadJSON: the payload is not a JSON object.
	ErrPayloadJSON = newError(unauthorized, "Jwt payload is an invalid JSON", "payload is not a JSON object")
	// ErrIssNotString: iss is present but not a string.
	ErrIssNotString = newError(unauthorized, "Jwt payload [iss] field is not a string", "iss not a string")
	// ErrSubNotString: sub is present but not a string.
	ErrSubNotString = newError(unauthorized, "Jwt payload [sub] field is not a string", "sub not a string")
	// ErrExpNotInteger: exp is present but not a whole number.
	ErrExpNotInteger = newError(unauthorized, "Jwt payload [exp] field is not an integer", "exp not an integer")
	// ErrNbfNotInteger: nbf is present but not a whole number.
	ErrNbfNotInteger = newError(unauthorized, "Jwt payload [nbf] field is not an integer", "nbf not an integer")
	// ErrIatNotInteger: iat is present but not a whole number.
	ErrIatNotInteger = newError(unauthorized, "Jwt payload [iat] field is not an integer", "iat not an integer")
	// ErrExpNotPositive: exp is negative or beyond a signed 64-bit integer.
	ErrExpNotPositive = newError(unauthorized, "Jwt payload [exp] field is not a positive 64 bit integer", "exp negative or too large")
	// ErrNbfNotPositive: nbf is negative or beyond a signed 64-bit integer.
	ErrNbfNotPositive = newError(unauthorized, "Jwt payload [nbf] field is not a positive 64 bit integer", "nbf negative or too large")
	// ErrIatNotPositive: iat is negative or beyond a signed 64-bit integer.
	ErrIatNotPositive = newError(unauthorized, "Jwt payload [iat] field is not a positive 64 bit integer", "iat negative or too large")
	// ErrJtiNotString: jti is present but not a string.
	ErrJtiNotString = newError(unauthorized, "Jwt payload [jti] field is not a string", "jti not a string")
	// ErrAudNotString: aud is neither a string nor a list of strings.
	ErrAudNotString = newError(unauthorized, "Jwt payload [aud] field is not a string or string list", "aud not a string or string list")
	// ErrSignatureBase64: the signature segment is not base64url.
	ErrSignatureBase64 = newError(unauthorized, "Jwt signature is an invalid Base64url encoded", "signature segment is not base64url")

	// Claim and key errors, in the order they are checked.

	// ErrUnknownIssuer: the provider has an issuer and iss differs (or is
	// absent).
	ErrUnknownIssuer = newError(unauthorized, "Jwt issuer is not configured", "iss does not match the provider's issuer")
	// ErrNotYetValid: nbf lies in the future beyond the clock skew.
	ErrNotYetValid = newError(unauthorized, "Jwt not yet valid", "nbf in the future")
	// ErrExpired: exp lies in the past beyond the clock skew.
	ErrExpired = newError(unauthorized, "Jwt is expired", "exp in the past")
	// ErrAudience: the provider has audiences and aud holds none of them.
	// Status 403, as Envoy answers.
	ErrAudience = newError(http.StatusForbidden, "Audiences in Jwt are not allowed", "aud holds none of the provider's audiences")
	// ErrKidAlgMismatch: no key in the key set fits the token's kid and alg.
	ErrKidAlgMismatch = newError(unauthorized, "Jwks doesn't have key to match kid or alg from Jwt", "no key fits the token's kid and alg")
	// ErrVerificationFail: keys fit, but none verifies the signature.
	ErrVerificationFail = newError(unauthorized, msgVerificationFails, "signature does not verify")
	// ErrJwksFetch: the provider's remote key set has never been fetched
	// successfully (or not within the fetch timeout).
	ErrJwksFetch = newError(unauthorized, "Jwks remote fetch is failed", "remote key set not available")

	// ErrTooManyTokens: a request carries more than MaxTokens tokens. Every
	// token costs a signature check, so the count is bounded; the body is
	// Envoy's wording for multiple tokens.
	ErrTooManyTokens = newError(unauthorized, "Found multiple Jwt tokens", "more tokens in one request than MaxTokens")

	// Our own checks beyond Envoy's. They answer "Jwt verification fails"
	// but are distinct values so that logs can tell them apart.

	// ErrTooLarge: the token is longer than the provider's MaxTokenBytes;
	// checked before anything else.
	ErrTooLarge = newError(unauthorized, msgVerificationFails, "token longer than maxTokenBytes")
	// ErrCrit: the header has a crit parameter. We understand no JWS
	// extension, so RFC 7515 section 4.1.11 says reject.
	ErrCrit = newError(unauthorized, msgVerificationFails, "crit header present")
	// ErrExpRequired: the provider requires exp and the token has none.
	ErrExpRequired = newError(unauthorized, msgVerificationFails, "exp required but absent")
	// ErrLifetime: the provider has a MaxLifetime and exp - iat exceeds it,
	// or the token lacks iat or exp.
	ErrLifetime = newError(unauthorized, msgVerificationFails, "exp - iat longer than maxLifetime, or iat/exp absent")
)
