//! The CRM's enumerations and the segment table, as data: each label with
//! the aliases a sheet may use and the words other systems use for it.

use super::*;

macro_rules! enumeration {
    ($name:literal, [$(($label:literal, [$($alias:literal),*])),* $(,)?]
     $(, elsewhere: [$(($elabel:literal, [$($word:literal),*])),* $(,)?])?) => {{
        const VALUES: &[(&str, &[&str])] = &[$(($label, &[$($alias),*])),*];
        const ELSEWHERE: &[(&str, &[&str])] = &[$($(($elabel, &[$($word),*])),*)?];
        Enumeration {
            name: $name,
            values: VALUES,
            elsewhere: ELSEWHERE,
            keys: LazyLock::new(|| Enumeration::keys_of(VALUES, ELSEWHERE)),
        }
    }};
}

/// `organization_type`.
pub static ORGANIZATION_TYPES: Enumeration = enumeration!(
    "type",
    [
        ("principal", ["manufacturer", "brand", "supplier"]),
        ("distributor", ["distribution"]),
        ("customer", ["operator"]),
        ("prospect", []),
        ("vendor", []),
    ],
    // Salesforce's account types, HubSpot's company types, Dynamics'
    // relationship types; partners, competitors and the like have no
    // clear counterpart.
    elsewhere: [
        (
            "customer",
            ["Customer - Direct", "Customer - Channel", "Current Customer"]
        ),
        (
            "distributor",
            ["Reseller", "Channel Partner / Reseller", "Wholesaler"]
        ),
    ]
);

/// `contact_role`.
pub static CONTACT_ROLES: Enumeration = enumeration!(
    "role",
    [
        ("decision_maker", ["Decision Maker", "DM"]),
        ("influencer", []),
        ("buyer", ["Purchaser"]),
        ("end_user", ["End User", "User"]),
        ("gatekeeper", []),
        ("champion", []),
    ],
    // Salesforce's contact roles on an opportunity and HubSpot's buying
    // roles; their Blocker, Technical Buyer and Legal & Compliance have no
    // clear counterpart.
    elsewhere: [
        (
            "decision_maker",
            ["Economic Decision Maker", "Economic Buyer", "Budget Holder"]
        ),
        ("influencer", ["Evaluator"]),
        ("end_user", ["Business User"]),
        ("champion", ["Executive Sponsor"]),
    ]
);

/// `product_category`.
pub static PRODUCT_CATEGORIES: Enumeration = enumeration!(
    "category",
    [
        ("beverages", []),
        ("dairy", []),
        ("frozen", []),
        ("fresh_produce", ["Produce", "Fresh Produce"]),
        ("meat_poultry", ["Meat", "Poultry", "Meat & Poultry"]),
        ("seafood", ["Fish"]),
        ("dry_goods", ["Dry Goods", "Grocery"]),
        ("spices_seasonings", ["Spices", "Seasonings"]),
        ("baking_supplies", ["Baking"]),
        ("cleaning_supplies", ["Cleaning", "Chemicals"]),
        ("paper_products", ["Paper", "Disposables"]),
        ("equipment", []),
    ],
    // How distributors' and manufacturers' price lists head their sections.
    elsewhere: [
        ("beverages", ["Drinks", "Coffee & Tea", "Juice"]),
        ("dairy", ["Dairy & Eggs", "Cheese", "Eggs & Dairy"]),
        ("frozen", ["Frozen Foods", "Frozen Food", "Frozen Goods"]),
        (
            "fresh_produce",
            ["Fruits & Vegetables", "Fruit & Vegetables", "Vegetables", "Fruit"]
        ),
        ("meat_poultry", ["Beef", "Pork", "Chicken", "Protein"]),
        ("seafood", ["Seafood & Fish", "Shellfish", "Fish & Seafood"]),
        (
            "dry_goods",
            ["Canned Goods", "Canned & Dry", "Dry Grocery", "Pantry", "Canned"]
        ),
        ("spices_seasonings", ["Spices & Herbs", "Herbs & Spices"]),
        ("baking_supplies", ["Baking Mixes", "Flour"]),
        (
            "cleaning_supplies",
            [
                "Janitorial",
                "Janitorial Supplies",
                "Chemicals & Janitorial",
                "Sanitation"
            ]
        ),
        (
            "paper_products",
            ["Paper & Disposables", "Disposables & Packaging", "Packaging"]
        ),
        ("equipment", ["Smallwares", "Kitchen Equipment"]),
    ]
);

/// `opportunity_stage`.
pub static OPPORTUNITY_STAGES: Enumeration = enumeration!(
    "stage",
    [
        ("New Lead", ["New", "Lead"]),
        ("Initial Outreach", ["Outreach", "Contacted"]),
        (
            "Sample/Visit Offered",
            ["Sample", "Visit", "Sample Offered"]
        ),
        ("Awaiting Response", ["Waiting", "Pending"]),
        ("Feedback Logged", ["Feedback"]),
        ("Demo Scheduled", ["Demo"]),
        ("Closed - Won", ["Won", "Closed Won"]),
        ("Closed - Lost", ["Lost", "Closed Lost"]),
    ],
    // Salesforce's and Zoho's standard stages, HubSpot's sales pipeline
    // (labels and internal names), Dynamics' sales stages, Odoo's. Those
    // with no clear counterpart (Needs Analysis, Value Proposition,
    // Perception Analysis, Decision Maker Bought-In, Develop) stay unknown.
    elsewhere: [
        ("New Lead", ["Prospecting"]),
        (
            "Initial Outreach",
            [
                "Qualification",
                "Qualified To Buy",
                "qualifiedtobuy",
                "Qualify",
                "Qualified"
            ]
        ),
        (
            "Sample/Visit Offered",
            ["Appointment Scheduled", "appointmentscheduled"]
        ),
        (
            "Awaiting Response",
            [
                "Proposal/Price Quote",
                "Contract Sent",
                "contractsent",
                "Propose",
                "Proposition"
            ]
        ),
        ("Feedback Logged", ["Negotiation/Review"]),
        (
            "Demo Scheduled",
            ["Presentation Scheduled", "presentationscheduled"]
        ),
    ]
);

/// `interaction_type`.
pub static INTERACTION_TYPES: Enumeration = enumeration!(
    "type",
    [
        ("call", ["Phone", "Phone Call"]),
        ("email", ["E-mail"]),
        ("meeting", []),
        ("demo", []),
        ("proposal", []),
        ("follow_up", ["Follow Up", "Follow-up"]),
        ("trade_show", ["Trade Show", "Show"]),
        ("site_visit", ["Visit", "Site Visit"]),
        ("contract_review", ["Contract"]),
    ],
    // Pipedrive's activity types, Salesforce's activity subtypes, Dynamics'
    // activities; tasks, deadlines, letters and faxes have no counterpart.
    elsewhere: [
        ("meeting", ["Lunch", "Appointment", "Event", "Meetings (Events)"]),
        ("email", ["List Email"]),
    ]
);

/// The organization segment table: `(SEGMENT as the seed's sheets write it,
/// CRM segment)`. A CRM segment written as such is kept too.
pub const SEGMENTS: [(&str, &str); 10] = [
    ("distributor", "Distribution"),
    ("casual", "Casual Dining"),
    ("chain/group member", "Chain Restaurant"),
    ("ethnic", "Ethnic Cuisine"),
    ("pizza", "Pizza Restaurant"),
    ("fine dining", "Fine Dining"),
    ("gastropub", "Gastropub"),
    ("caterer", "Catering"),
    ("education", "Educational Institution"),
    // What a blank SEGMENT becomes: written back (an export), it is known.
    ("general", "General"),
];

/// The organization type a SEGMENT implies, by the segment as the seed's
/// sheets write it; any other segment implies `customer`. A principal's
/// segment has no CRM segment of its own and is kept as written.
pub const SEGMENT_TYPES: [(&str, &str); 4] = [
    ("distributor", "distributor"),
    ("principal", "principal"),
    ("manufacturer", "principal"),
    ("supplier", "principal"),
];
