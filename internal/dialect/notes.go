package dialect

import (
	"slices"
	"strings"

	"jwtgate.dev/jwtgate/internal/model"
)

// NoteDraft is one thing a dialect has to say about a resource's status
// while it translates it: a reason (one of model's Reason constants) and a
// message. A resource may collect several; JoinNotes makes its status.
type NoteDraft struct {
	Reason, Message string
}

// notePriority orders reasons: a status shows the strongest, with every
// message.
var notePriority = []string{
	model.ReasonNotSelected, model.ReasonUnsupported, model.ReasonConflicted,
	model.ReasonTargetNotFound, model.ReasonPartiallyAccepted,
}

// JoinNotes joins a resource's notes into its one model.Note: the
// strongest reason (NotSelected, Unsupported, Conflicted, TargetNotFound,
// then PartiallyAccepted) and every distinct message, in order, joined by
// "; ". Nil when there are none.
func JoinNotes(ref model.Ref, notes []NoteDraft) *model.Note {
	if len(notes) == 0 {
		return nil
	}
	best := len(notePriority)
	var msgs []string
	for _, n := range notes {
		if i := slices.Index(notePriority, n.Reason); i >= 0 && i < best {
			best = i
		}
		if !slices.Contains(msgs, n.Message) {
			msgs = append(msgs, n.Message)
		}
	}
	reason := model.ReasonPartiallyAccepted
	if best < len(notePriority) {
		reason = notePriority[best]
	}
	return &model.Note{Ref: ref, Reason: reason, Message: strings.Join(msgs, "; ")}
}
