package envoygateway

// Forms are the names of the forms an authorization may be written in.
var Forms = map[string]int{"ALLOW": int(formAllow), "mixed": int(formMixed), "DENY": int(formDeny)}

// ForceForm makes every authorization be written in form f where that
// form is exact (the ALLOW and mixed forms need the default Deny), until
// the returned function is called.
func ForceForm(f int) (restore func()) {
	fm := form(f)
	forced = &fm
	return func() { forced = nil }
}
