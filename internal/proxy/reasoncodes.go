package proxy

import (
	"jwtgate.dev/jwtgate/internal/authn"
	"jwtgate.dev/jwtgate/internal/metrics"
)

// reasonCodes names each authentication failure for the reason label of
// the authentication metrics. Errors are told apart by identity: several
// share one body.
var reasonCodes = map[*authn.Error]string{
	authn.ErrMissing:          metrics.ReasonJWTMissing,
	authn.ErrBadFormat:        metrics.ReasonJWTBadFormat,
	authn.ErrNotOneToken:      metrics.ReasonJWTNotOneToken,
	authn.ErrHeaderBase64:     metrics.ReasonJWTHeaderBadBase64,
	authn.ErrHeaderJSON:       metrics.ReasonJWTHeaderBadJSON,
	authn.ErrAlgMissing:       metrics.ReasonJWTAlgMissing,
	authn.ErrAlgUnsupported:   metrics.ReasonJWTAlgUnsupported,
	authn.ErrKidNotString:     metrics.ReasonJWTKidNotString,
	authn.ErrPayloadBase64:    metrics.ReasonJWTPayloadBadBase64,
	authn.ErrPayloadJSON:      metrics.ReasonJWTPayloadBadJSON,
	authn.ErrIssNotString:     metrics.ReasonJWTIssNotString,
	authn.ErrSubNotString:     metrics.ReasonJWTSubNotString,
	authn.ErrExpNotInteger:    metrics.ReasonJWTExpNotInteger,
	authn.ErrNbfNotInteger:    metrics.ReasonJWTNbfNotInteger,
	authn.ErrIatNotInteger:    metrics.ReasonJWTIatNotInteger,
	authn.ErrExpNotPositive:   metrics.ReasonJWTExpNotPositive,
	authn.ErrNbfNotPositive:   metrics.ReasonJWTNbfNotPositive,
	authn.ErrIatNotPositive:   metrics.ReasonJWTIatNotPositive,
	authn.ErrJtiNotString:     metrics.ReasonJWTJtiNotString,
	authn.ErrAudNotString:     metrics.ReasonJWTAudNotString,
	authn.ErrSignatureBase64:  metrics.ReasonJWTSignatureBadBase64,
	authn.ErrUnknownIssuer:    metrics.ReasonJWTUnknownIssuer,
	authn.ErrNotYetValid:      metrics.ReasonJWTNotYetValid,
	authn.ErrExpired:          metrics.ReasonJWTExpired,
	authn.ErrAudience:         metrics.ReasonJWTAudienceNotAllowed,
	authn.ErrKidAlgMismatch:   metrics.ReasonJWKSKidAlgMismatch,
	authn.ErrVerificationFail: metrics.ReasonJWTVerificationFails,
	authn.ErrJwksFetch:        metrics.ReasonJWKSFetchFailed,
	authn.ErrTooManyTokens:    metrics.ReasonJWTMultipleTokens,
	authn.ErrTooLarge:         metrics.ReasonJWTTooLarge,
	authn.ErrCrit:             metrics.ReasonJWTCritHeader,
	authn.ErrExpRequired:      metrics.ReasonJWTExpRequired,
	authn.ErrLifetime:         metrics.ReasonJWTLifetime,
}

// reasonCode is e's reason code; metrics.ReasonOther for an error not
// listed, metrics.ReasonNone for nil.
func reasonCode(e *authn.Error) string {
	if e == nil {
		return metrics.ReasonNone
	}
	if c, ok := reasonCodes[e]; ok {
		return c
	}
	return metrics.ReasonOther
}
