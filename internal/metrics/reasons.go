package metrics

// Reason codes, the reason label of jwtgate_authn_total. Each names one
// failure of the authn package, worded after Envoy's jwt_authn message
// for it; the caller maps an *authn.Error to its code by identity (several
// errors share a message). A reason never holds a token or a claim value.
const (
	// ReasonNone is the reason of a verified token.
	ReasonNone = "none"
	// ReasonOther is recorded for any reason not listed here.
	ReasonOther = "other"

	// ReasonJWTMissing: authn.ErrMissing, "Jwt is missing".
	ReasonJWTMissing = "jwt_missing"
	// ReasonJWTBadFormat: authn.ErrBadFormat, "Jwt is not in the form of
	// Header.Payload.Signature with two dots and 3 sections".
	ReasonJWTBadFormat = "jwt_bad_format"
	// ReasonJWTNotOneToken: authn.ErrNotOneToken, the same body as
	// ReasonJWTBadFormat (the place a token was taken from holds more than
	// one token, or a token and more words).
	ReasonJWTNotOneToken = "jwt_not_one_token"
	// ReasonJWTHeaderBadBase64: authn.ErrHeaderBase64, "Jwt header is an
	// invalid Base64url encoded".
	ReasonJWTHeaderBadBase64 = "jwt_header_bad_base64"
	// ReasonJWTHeaderBadJSON: authn.ErrHeaderJSON, "Jwt header is an
	// invalid JSON".
	ReasonJWTHeaderBadJSON = "jwt_header_bad_json"
	// ReasonJWTAlgMissing: authn.ErrAlgMissing, "Jwt header [alg] field is
	// required and must be a string".
	ReasonJWTAlgMissing = "jwt_alg_missing"
	// ReasonJWTAlgUnsupported: authn.ErrAlgUnsupported, "Jwt header [alg]
	// is not supported".
	ReasonJWTAlgUnsupported = "jwt_alg_unsupported"
	// ReasonJWTKidNotString: authn.ErrKidNotString, "Jwt header [kid]
	// field is not a string".
	ReasonJWTKidNotString = "jwt_kid_not_string"
	// ReasonJWTPayloadBadBase64: authn.ErrPayloadBase64, "Jwt payload is an
	// invalid Base64url encoded".
	ReasonJWTPayloadBadBase64 = "jwt_payload_bad_base64"
	// ReasonJWTPayloadBadJSON: authn.ErrPayloadJSON, "Jwt payload is an
	// invalid JSON".
	ReasonJWTPayloadBadJSON = "jwt_payload_bad_json"
	// ReasonJWTIssNotString: authn.ErrIssNotString, "Jwt payload [iss]
	// field is not a string".
	ReasonJWTIssNotString = "jwt_iss_not_string"
	// ReasonJWTSubNotString: authn.ErrSubNotString, "Jwt payload [sub]
	// field is not a string".
	ReasonJWTSubNotString = "jwt_sub_not_string"
	// ReasonJWTExpNotInteger: authn.ErrExpNotInteger, "Jwt payload [exp]
	// field is not an integer".
	ReasonJWTExpNotInteger = "jwt_exp_not_integer"
	// ReasonJWTNbfNotInteger: authn.ErrNbfNotInteger, "Jwt payload [nbf]
	// field is not an integer".
	ReasonJWTNbfNotInteger = "jwt_nbf_not_integer"
	// ReasonJWTIatNotInteger: authn.ErrIatNotInteger, "Jwt payload [iat]
	// field is not an integer".
	ReasonJWTIatNotInteger = "jwt_iat_not_integer"
	// ReasonJWTExpNotPositive: authn.ErrExpNotPositive, "Jwt payload [exp]
	// field is not a positive 64 bit integer".
	ReasonJWTExpNotPositive = "jwt_exp_not_positive"
	// ReasonJWTNbfNotPositive: authn.ErrNbfNotPositive, "Jwt payload [nbf]
	// field is not a positive 64 bit integer".
	ReasonJWTNbfNotPositive = "jwt_nbf_not_positive"
	// ReasonJWTIatNotPositive: authn.ErrIatNotPositive, "Jwt payload [iat]
	// field is not a positive 64 bit integer".
	ReasonJWTIatNotPositive = "jwt_iat_not_positive"
	// ReasonJWTJtiNotString: authn.ErrJtiNotString, "Jwt payload [jti]
	// field is not a string".
	ReasonJWTJtiNotString = "jwt_jti_not_string"
	// ReasonJWTAudNotString: authn.ErrAudNotString, "Jwt payload [aud]
	// field is not a string or string list".
	ReasonJWTAudNotString = "jwt_aud_not_string"
	// ReasonJWTSignatureBadBase64: authn.ErrSignatureBase64, "Jwt
	// signature is an invalid Base64url encoded".
	ReasonJWTSignatureBadBase64 = "jwt_signature_bad_base64"
	// ReasonJWTUnknownIssuer: authn.ErrUnknownIssuer, "Jwt issuer is not
	// configured".
	ReasonJWTUnknownIssuer = "jwt_unknown_issuer"
	// ReasonJWTNotYetValid: authn.ErrNotYetValid, "Jwt not yet valid".
	ReasonJWTNotYetValid = "jwt_not_yet_valid"
	// ReasonJWTExpired: authn.ErrExpired, "Jwt is expired".
	ReasonJWTExpired = "jwt_expired"
	// ReasonJWTAudienceNotAllowed: authn.ErrAudience, "Audiences in Jwt
	// are not allowed".
	ReasonJWTAudienceNotAllowed = "jwt_audience_not_allowed"
	// ReasonJWKSKidAlgMismatch: authn.ErrKidAlgMismatch, "Jwks doesn't
	// have key to match kid or alg from Jwt".
	ReasonJWKSKidAlgMismatch = "jwks_kid_alg_mismatch"
	// ReasonJWTVerificationFails: authn.ErrVerificationFail, "Jwt
	// verification fails" (the signature does not verify).
	ReasonJWTVerificationFails = "jwt_verification_fails"
	// ReasonJWKSFetchFailed: authn.ErrJwksFetch, "Jwks remote fetch is
	// failed".
	ReasonJWKSFetchFailed = "jwks_fetch_failed"
	// ReasonJWTMultipleTokens: authn.ErrTooManyTokens, "Found multiple Jwt
	// tokens".
	ReasonJWTMultipleTokens = "jwt_multiple_tokens"
	// ReasonJWTTooLarge: authn.ErrTooLarge, "Jwt verification fails" (the
	// token is longer than the provider's maxTokenBytes).
	ReasonJWTTooLarge = "jwt_too_large"
	// ReasonJWTCritHeader: authn.ErrCrit, "Jwt verification fails" (the
	// header has a crit parameter).
	ReasonJWTCritHeader = "jwt_crit_header"
	// ReasonJWTExpRequired: authn.ErrExpRequired, "Jwt verification fails"
	// (exp is required and absent).
	ReasonJWTExpRequired = "jwt_exp_required"
	// ReasonJWTLifetime: authn.ErrLifetime, "Jwt verification fails" (exp
	// - iat exceeds the provider's maxLifetime, or iat or exp is absent).
	ReasonJWTLifetime = "jwt_lifetime_exceeded"
)

// reasons is the fixed set of reason codes, in label order.
var reasons = [...]string{
	ReasonNone,
	ReasonOther,
	ReasonJWTMissing,
	ReasonJWTBadFormat,
	ReasonJWTNotOneToken,
	ReasonJWTHeaderBadBase64,
	ReasonJWTHeaderBadJSON,
	ReasonJWTAlgMissing,
	ReasonJWTAlgUnsupported,
	ReasonJWTKidNotString,
	ReasonJWTPayloadBadBase64,
	ReasonJWTPayloadBadJSON,
	ReasonJWTIssNotString,
	ReasonJWTSubNotString,
	ReasonJWTExpNotInteger,
	ReasonJWTNbfNotInteger,
	ReasonJWTIatNotInteger,
	ReasonJWTExpNotPositive,
	ReasonJWTNbfNotPositive,
	ReasonJWTIatNotPositive,
	ReasonJWTJtiNotString,
	ReasonJWTAudNotString,
	ReasonJWTSignatureBadBase64,
	ReasonJWTUnknownIssuer,
	ReasonJWTNotYetValid,
	ReasonJWTExpired,
	ReasonJWTAudienceNotAllowed,
	ReasonJWKSKidAlgMismatch,
	ReasonJWTVerificationFails,
	ReasonJWKSFetchFailed,
	ReasonJWTMultipleTokens,
	ReasonJWTTooLarge,
	ReasonJWTCritHeader,
	ReasonJWTExpRequired,
	ReasonJWTLifetime,
}

// reasonIndexes maps a reason code to its index in reasons.
var reasonIndexes = func() map[string]int {
	m := make(map[string]int, len(reasons))
	for i, r := range reasons {
		m[r] = i
	}
	return m
}()

// reasonIndex returns the index of reason in reasons, ReasonOther's when
// it is not a known code. It does not allocate.
func reasonIndex(reason string) int {
	if i, ok := reasonIndexes[reason]; ok {
		return i
	}
	return 1
}

// Reasons returns every reason code, ReasonNone and ReasonOther included:
// the only values the reason label can take.
func Reasons() []string { return append([]string(nil), reasons[:]...) }
