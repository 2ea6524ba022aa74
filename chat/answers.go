package chat

// Intent labels the chat acts on. The intent model's other labels are the
// customer-service intents answered from serviceAnswers.
const (
	IntentProductSearch = "product_search"
	IntentGreeting      = "greeting"
	IntentGoodbye       = "goodbye"
	IntentThanks        = "thanks"
	IntentOutOfScope    = "out_of_scope"
	IntentRecommend     = "recommend"
)

// smallTalk answers greetings, goodbyes and thanks.
var smallTalk = map[string]string{
	IntentGreeting: "Hello! I'm the store's assistant. Tell me what you're looking for — a product type, a brand or a model number — or ask me about an order, a delivery or a refund.",
	IntentGoodbye:  "Goodbye, and thanks for visiting! Your conversation is saved if you come back.",
	IntentThanks:   "You're welcome! Is there anything else I can help you find?",
	// Without behaviour events there is no profile to recommend from.
	IntentRecommend: "Tell me what you're looking for — a product type, a brand or a budget — and I'll suggest the best options.",
}

// outOfScopeAnswer is the polite fallback for what a shop assistant cannot
// help with.
const outOfScopeAnswer = "Sorry, that's outside what I can help with here. I can find products in our catalogue and help with orders, deliveries, returns, payments and your account — or I can put you in touch with a person from our team."

// serviceAnswers gives a short, correct first answer to each retail
// customer-service intent. They say what the shopper can do now; the
// conversation flows (order look-up, cancellation with confirmation,
// handoff to a person) build on them.
var serviceAnswers = map[string]string{
	"track_order":              "I can help you track your order. Please send me your order number — it's in your order confirmation email. You can also follow every order under My account → Orders.",
	"cancel_order":             "You can cancel an order that hasn't shipped yet under My account → Orders → Cancel. Send me the order number if you'd like me to check whether it can still be cancelled.",
	"change_order":             "Orders can be changed until they ship. Send me the order number and what you'd like to change (items, quantities or size) and I'll check what's possible.",
	"place_order":              "To place an order, add the products to your basket and go to checkout. Tell me what you're looking for and I'll help you find it.",
	"change_shipping_address":  "You can change the delivery address of an order that hasn't shipped under My account → Orders → Change address. For an order already on its way, send me the order number and I'll see what the carrier allows.",
	"set_up_shipping_address":  "You can add or edit delivery addresses under My account → Addresses, or enter a new one at checkout.",
	"delivery_options":         "We offer standard delivery, express delivery and collection from a pick-up point; the options and prices for your address are shown at checkout.",
	"delivery_period":          "Standard delivery usually takes 2–5 working days and express 1–2; the estimate for your address and items is shown at checkout and in your confirmation email.",
	"check_cancellation_fee":   "Cancelling an order before it ships is free. Once it has shipped, you can return it instead under our returns policy.",
	"check_refund_policy":      "You can return most items within 30 days of delivery for a full refund, in their original condition. Refunds go back to the original payment method.",
	"get_refund":               "To get a refund, start a return under My account → Orders → Return items. Once we receive the items, the refund is issued to your original payment method.",
	"track_refund":             "Refunds are issued within 5 working days of the return reaching us, and your bank may take a few more days to show them. Send me the order number and I'll check its status.",
	"check_invoice":            "Invoices for every order are under My account → Orders → Invoice. Send me the order number if you can't find one.",
	"get_invoice":              "You can download the invoice of any order under My account → Orders → Invoice. If you need it issued to a company, tell me the order number.",
	"check_payment_methods":    "We accept major credit and debit cards, PayPal and bank transfer; the methods available for your order are shown at checkout.",
	"payment_issue":            "Sorry about the payment trouble. Please check your card details and that your bank allows the payment, or try another method. If you were charged without getting an order confirmation, send me the details and I'll get a person to look into it.",
	"create_account":           "You can create an account with the Sign up link at the top of the page; all you need is an email address and a password.",
	"delete_account":           "You can close your account under My account → Settings → Delete account. We'll ask you to confirm, and your personal data is then erased.",
	"edit_account":             "You can change your name, email, password and preferences under My account → Settings.",
	"switch_account":           "To use another account, sign out from the menu at the top of the page and sign in with the other one.",
	"recover_password":         "Use the “Forgot password?” link on the sign-in page; we'll email you a link to set a new password.",
	"registration_problems":    "Sorry you're having trouble signing up. Check that the email address isn't already registered (then use “Forgot password?”) and that the password meets the rules shown. If it still fails, tell me the error and I'll get a person to help.",
	"newsletter_subscription":  "You can subscribe or unsubscribe from our newsletter under My account → Settings → Emails, or with the link at the bottom of any newsletter.",
	"review":                   "Thanks for wanting to share your opinion! You can review a product you bought on its product page, or tell me here and I'll pass it on to the team.",
	"complaint":                "I'm sorry about your experience. I'm passing your conversation to a person from our team, who will reply as soon as possible.",
	"contact_customer_service": "Our customer service team is available by chat here, by email and by phone on working days. I can put you in touch with a person now if you like.",
	"contact_human_agent":      "Of course — I'm passing your conversation to a person from our team, who will reply here as soon as possible.",
}
