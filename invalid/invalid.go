// Package invalid is the one error type for a request a person must change. The domain packages
// (segment, templates, importer, drip, broadcast, policy) return it; the API maps it to a status
// in one place by its code (400 for invalid input, 404 for a missing resource, 409 for a state that
// forbids the action), and the console shows its message beside the field.
package invalid

import (
	"errors"
	"fmt"
)

// The stable codes, as the API answers them.
const (
	Code          = "validation_failed" // input a person must fix
	CodeNotFound  = "not_found"         // a resource of the account that does not exist
	CodeConflict  = "conflict"          // the resource's state forbids the action
	CodeForbidden = "forbidden"         // the caller may not do this to this resource
	CodeGone      = "gone"              // the resource was there to take once, and is no longer
	// CodeApprovalRequired: the account wants another person's approval for this first.
	CodeApprovalRequired = "approval_required"
)

// Error names what is wrong: Field is a path into what was sent ("steps[2].delay", "" for the
// whole input), Code a stable code clients can switch on, Message the explanation for people.
type Error struct {
	Field   string
	Code    string
	Message string
	Details any // what the message counts, when a client needs it (the phones that are not valid)
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Field is an error in one field.
func Field(field, format string, args ...any) *Error {
	return &Error{Field: field, Code: Code, Message: fmt.Sprintf(format, args...)}
}

// Input is an error in the input as a whole.
func Input(format string, args ...any) *Error { return Field("", format, args...) }

// NotFound is a resource the caller's account does not have (or that does not exist: the two are
// told apart to nobody).
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Conflict is an action the resource's current state forbids.
func Conflict(format string, args ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

// Forbidden is an action the caller's role or identity may not take on this resource.
func Forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// Gone is a one-time resource already used, or expired.
func Gone(format string, args ...any) *Error {
	return &Error{Code: CodeGone, Message: fmt.Sprintf(format, args...)}
}

// As finds the invalid-input error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Within returns err with its field placed under parent ("rules" and "all[2]" make
// "rules.all[2]"; an index like "[3]" joins without a dot); other errors come back as they are.
func Within(parent string, err error) error {
	e, ok := As(err)
	if !ok {
		return err
	}
	field := parent
	switch {
	case e.Field == "":
	case e.Field[0] == '[':
		field += e.Field
	default:
		field += "." + e.Field
	}
	return &Error{Field: field, Code: e.Code, Message: e.Message, Details: e.Details}
}
