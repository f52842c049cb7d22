package whatsapp

// Explanation is what a Meta error code means and what a marketer can do about it, as a report
// shows it beside the failures.
type Explanation struct {
	Meaning string
	Action  string
}

// explanations follow Meta's error-code reference.
var explanations = map[int]Explanation{
	190:    {"The number's access token expired or was revoked.", "Reconnect the channel with a new token; sending on it is stopped."},
	368:    {"The business is temporarily blocked for policy violations.", "Review the policy notice in WhatsApp Manager; sending is stopped."},
	130429: {"The number's throughput was reached.", "Nothing: Dripcast slows down and retries."},
	130472: {"The user's number is part of a Meta experiment.", "Nothing: these users cannot get marketing messages for now."},
	130497: {"The business may not message users in this country.", "Remove these contacts from the audience."},
	2:      {"Meta's API was down or overloaded for a moment.", "Retry the failed later, or let the retry policy do it."},
	131000: {"Something went wrong at Meta.", "Retry the failed later, or let the retry policy do it."},
	131005: {"Access denied: the token lacks a permission.", "Give the app the whatsapp_business_messaging permission."},
	131008: {"A required template parameter is missing.", "Fix the parameter mapping of the broadcast."},
	131009: {"A parameter value is not valid.", "Check the values and fallbacks of the parameter mapping."},
	131016: {"Meta's service was unavailable.", "Retry the failed later, or let the retry policy do it."},
	131021: {"The recipient is the sending number itself.", "Remove the business's own number from the audience."},
	131026: {"The message could not be delivered: not on WhatsApp, an old app, or terms not accepted.", "Check the numbers; do not retry at once."},
	131031: {"The business account is locked.", "Contact Meta support; sending is stopped."},
	131042: {"A payment problem on the business account.", "Fix the payment method in WhatsApp Manager."},
	131045: {"The phone number is not registered correctly.", "Register the number again."},
	131047: {"More than 24 hours since the user's last message.", "Send a template message instead."},
	131048: {"Spam rate limit: many users blocked or reported the number.", "Slow down, improve targeting and content, check the quality rating."},
	131049: {"Meta did not deliver, to keep engagement healthy (per-user marketing cap).", "Retry the failed after a day or more (a retry policy waits 24 hours)."},
	131050: {"The user stopped marketing messages from this business.", "Nothing: the contact is now opted out."},
	131051: {"The message type is not supported.", "Use a supported template."},
	131053: {"Meta could not get the header's media: a link it cannot fetch, or an uploaded file it no longer keeps (30 days).", "Check the link, or upload the file again and map its new media id."},
	131056: {"Too many messages to the same user in a short time.", "Nothing: Dripcast spaces them out."},
	131057: {"The account is in maintenance (a throughput upgrade).", "Nothing: Dripcast retries after a minute."},
	131062: {"Authentication templates cannot go to a username.", "Send to a phone number."},
	134101: {"The Marketing Messages API is still preparing this template (new, or unused for 7 days).", "Nothing: Dripcast tries again in 10 minutes."},
	132000: {"The number of parameters does not match the template.", "Fix the parameter mapping."},
	132001: {"The template does not exist in this language.", "Check the template's name and language at Meta."},
	132005: {"The filled-in text is too long.", "Shorten the parameter values."},
	132007: {"The filled-in text breaks Meta's formatting policy.", "Check the parameter values."},
	132012: {"A parameter has the wrong format (a header's media of another kind, say).", "Fix the parameter types of the mapping."},
	132015: {"The template is paused by Meta for low quality.", "Wait for the pause to end or use another template."},
	132016: {"The template is disabled.", "Use another template."},
}

// Explain is what a Meta error code means and what to do; the zero value for a code without an
// entry.
func Explain(code int) Explanation { return explanations[code] }
