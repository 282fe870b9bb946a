"""One paraphrased question per scenario (none copies its slide), shared by the
integration and end-to-end tests: each must be answered from its own slide first."""

SCENARIO_QUESTIONS = [
    (4, "A partner is pitching CSP to one of my EA accounts, should I co-sell with them?"),
    (5, "where do I look for upsell leads in a CSP account"),
    (6, "customer needs a product their reseller doesn't offer"),
    (7, "partner is able to support the new product for our CSP customer, how do I formalize the co-sell?"),
    (8, "My customer's Enterprise Agreement is up for renewal soon. How should I handle it?"),
    (9, "after moving to CSP can the customer still get Premier support?"),
    (10, "is there tooling for partner to partner transitions"),
    (11, "is moving from breadth to enterprise motion a good idea"),
]
