//! The five entities as data: the one description each that everything
//! else reads (their enumerations are in `enumerations`).

use super::*;

const fn field(
    column: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
    kind: FieldKind,
) -> FieldSpec {
    FieldSpec {
        column,
        label,
        aliases,
        kind,
        required: false,
        max_chars: None,
        blank: None,
    }
}

const fn text(
    column: &'static str,
    label: &'static str,
    aliases: &'static [&'static str],
    max_chars: usize,
) -> FieldSpec {
    FieldSpec {
        column,
        label,
        aliases,
        kind: FieldKind::Text,
        required: false,
        max_chars: Some(max_chars),
        blank: None,
    }
}

impl FieldSpec {
    /// The field with `value` for a blank cell (or no column).
    const fn or_blank(mut self, value: &'static str) -> FieldSpec {
        self.blank = Some(value);
        self
    }
}

const fn required(mut spec: FieldSpec) -> FieldSpec {
    spec.required = true;
    spec
}

const fn limited(mut spec: FieldSpec, max_chars: usize) -> FieldSpec {
    spec.max_chars = Some(max_chars);
    spec
}

const fn link(entity: Entity, implied_type: Option<&'static str>, within: bool) -> FieldKind {
    FieldKind::Link(LinkTarget {
        entity,
        implied_type,
        within_organization: within,
    })
}

/// The seed's "Field Mapping Guide".
pub static ORGANIZATIONS: EntityDescription = EntityDescription {
    entity: Entity::Organizations,
    table: "organizations",
    sheet_names: &[
        "organizations",
        "organization",
        "accounts",
        "account",
        "customers",
        "companies",
    ],
    fields: &[
        required(text(
            "name",
            "Organizations",
            &[
                "Organizations",
                "Organization",
                "Organization Name",
                "Name",
                "Company",
                "Company Name",
                "Account Name",
            ],
            255,
        )),
        field(
            "priority",
            "PRIORITY-FOCUS (A-D)",
            &["PRIORITY-FOCUS (A-D)", "Priority Focus", "Priority"],
            FieldKind::Priority,
        ),
        limited(
            field("segment", "SEGMENT", &["Segment"], FieldKind::Segment),
            100,
        ),
        field(
            "type",
            "TYPE",
            &["Type", "Organization Type"],
            FieldKind::OrganizationType,
        ),
        field(
            "primary_manager_name",
            "PRIMARY ACCT. MANAGER",
            &[
                "Primary Acct. Manager",
                "Primary Account Manager",
                "Primary Manager",
            ],
            FieldKind::Text,
        ),
        field(
            "secondary_manager_name",
            "SECONDARY ACCT. MANAGER",
            &[
                "Secondary Acct. Manager",
                "Secondary Account Manager",
                "Secondary Manager",
            ],
            FieldKind::Text,
        ),
        text("website", "LINKEDIN", &["LinkedIn", "Website"], 255),
        limited(
            field(
                "phone",
                "PHONE",
                &["Phone", "Phone Number", "Telephone"],
                FieldKind::Phone,
            ),
            50,
        ),
        text(
            "address_line_1",
            "STREET ADDRESS",
            &["Street Address", "Address", "Address Line 1", "Street"],
            255,
        ),
        text("city", "CITY", &["City"], 100),
        text(
            "state_province",
            "STATE",
            &["State", "State/Province", "Province"],
            100,
        ),
        limited(
            field(
                "postal_code",
                "Zip Code",
                &["Zip Code", "Zip", "Postal Code", "Postcode"],
                FieldKind::PostalCode,
            ),
            20,
        ),
        field("notes", "NOTES", &["Notes", "Note"], FieldKind::Text),
        limited(
            field(
                "email",
                "Email",
                &["Email", "Email Address"],
                FieldKind::Email,
            ),
            255,
        ),
        text("industry", "Industry", &["Industry"], 100),
        text(
            "address_line_2",
            "Address Line 2",
            &["Address Line 2", "Street 2", "Address 2", "Suite"],
            255,
        ),
        limited(
            field(
                "country",
                "Country",
                &["Country", "Country Code"],
                FieldKind::Text,
            )
            .or_blank("US"),
            100,
        ),
        field(
            "annual_revenue",
            "Annual Revenue",
            &["Annual Revenue", "Revenue", "Annual Sales"],
            FieldKind::Money(13),
        ),
        field(
            "employee_count",
            "Employees",
            &[
                "Employees",
                "Employee Count",
                "Number of Employees",
                "No. of Employees",
                "Headcount",
            ],
            FieldKind::WholeNumber,
        ),
        field(
            "parent_organization_id",
            "Parent Organization",
            &[
                "Parent Organization",
                "Parent Company",
                "Parent Account",
                "Parent",
            ],
            link(Entity::Organizations, None, false),
        ),
        field(
            "is_active",
            "Active",
            &["Active", "Is Active"],
            FieldKind::YesNo { blank: true },
        ),
        // The managers as CRM users (SPEC.md, "CRM users"): found from the
        // names above as an import reads the rows.
        field(
            "primary_manager_id",
            "Primary manager (CRM user)",
            &[],
            FieldKind::UserOf("primary_manager_name"),
        ),
        field(
            "secondary_manager_id",
            "Secondary manager (CRM user)",
            &[],
            FieldKind::UserOf("secondary_manager_name"),
        ),
    ],
    duplicate_keys: &[DuplicateKey {
        what: "name",
        fields: &["name"],
    }],
    match_keys: &[MatchKey {
        fields: &["name"],
        within: &[],
        unless_differ: Some("city"),
    }],
    shown: "name || coalesce(' (' || nullif(btrim(city), '') || ')', '')",
    linked_by: Some(LinkedBy {
        name: &["name"],
        email: None,
        detail: "coalesce(t.city, '')",
        kind: Some("t.type::text"),
        organization: None,
    }),
    charted: &["priority", "segment", "type", "state_province"],
    relied_on: &[&["city"], &["state_province"], &["phone"]],
    exported_as: &[
        (
            "name",
            &[
                "Customer",
                "Customer Name",
                "Account",
                "Business Name",
                "Operator",
                "Operator Name",
                "Display Name",
                "Complete Name",
                "Full Name",
                "Company Name Entity",
            ],
        ),
        ("priority", &["Pri", "Focus", "Priority Level"]),
        ("segment", &["Seg", "Market Segment", "Segmentation"]),
        (
            "type",
            &[
                "Account Type",
                "Company Type",
                "Customer Type",
                "Relationship Type",
                "CTYPE",
            ],
        ),
        (
            "primary_manager_name",
            &[
                "Owner",
                "Account Owner",
                "Company Owner",
                "Organization Owner",
                "Owned By",
                "Salesperson",
                "Sales Rep",
                "Rep",
                "Account Manager",
                "Account Executive",
                "Account Rep",
                "Assigned To",
            ],
        ),
        (
            "secondary_manager_name",
            &["Second Rep", "Backup Rep", "Co-Owner"],
        ),
        (
            "website",
            &[
                "Website URL",
                "URL",
                "Domain",
                "Company Domain Name",
                "Website Link",
                "Web",
                "Homepage",
                "Work Website",
                "LinkedIn Company Page",
            ],
        ),
        (
            "phone",
            &[
                "Main Phone",
                "Business Phone",
                "Account Phone",
                "Office Phone",
                "Phone 1",
                "Work Phone",
                "Company Phone",
                "Tel",
            ],
        ),
        (
            "email",
            &["Company Email", "Main Email", "Work Email", "Email 1"],
        ),
        ("industry", &["Sector", "Industry Type"]),
        (
            "address_line_1",
            &[
                "Street 1",
                "Address 1",
                "Street Address 1",
                "Address Street",
                "BADDR1",
            ],
        ),
        ("address_line_2", &["Street Address 2", "BADDR2"]),
        ("city", &["Town", "City/Town"]),
        (
            "state_province",
            &["State Code", "State/Region Code", "State or Province", "ST"],
        ),
        (
            "postal_code",
            &[
                "Zip/Postal Code",
                "Postal/Zip Code",
                "Zip+4",
                "Billing Code",
                "Shipping Code",
            ],
        ),
        ("country", &["Nation", "Country/Region Code"]),
        ("annual_revenue", &["Yearly Revenue"]),
        ("employee_count", &["Staff", "Employee Range"]),
        (
            "parent_organization_id",
            &["Parent Account Name", "Parent Company Name"],
        ),
        (
            "notes",
            &["Description", "Details", "Notepad", "Comments", "About Us"],
        ),
    ],
    if_missing: &[],
};

/// SPEC.md, "Contacts".
pub static CONTACTS: EntityDescription = EntityDescription {
    entity: Entity::Contacts,
    table: "contacts",
    sheet_names: &["contacts", "contact", "people", "buyers"],
    fields: &[
        required(text(
            "first_name",
            "First Name",
            &["First Name", "First", "Given Name"],
            100,
        )),
        required(text(
            "last_name",
            "Last Name",
            &["Last Name", "Surname", "Last", "Family Name"],
            100,
        )),
        field(
            "full_name",
            "Name",
            &["Name", "Contact", "Full Name", "Contact Name"],
            FieldKind::FullName,
        ),
        field(
            "organization_id",
            "Organization",
            &[
                "Organization",
                "Organizations",
                "Company",
                "Account",
                "Restaurant",
                "Customer",
            ],
            link(Entity::Organizations, None, false),
        ),
        text("title", "Title", &["Title", "Job Title", "Position"], 100),
        field(
            "role",
            "Role",
            &["Role"],
            FieldKind::Enum {
                enumeration: &CONTACT_ROLES,
                blank: None,
                unknown: UnknownValue::Empty,
            },
        ),
        limited(
            field(
                "email",
                "Email",
                &["Email", "Email Address"],
                FieldKind::Email,
            ),
            255,
        ),
        limited(
            field(
                "phone",
                "Phone",
                &["Phone", "Office Phone", "Work Phone", "Direct"],
                FieldKind::Phone,
            ),
            50,
        ),
        limited(
            field(
                "mobile_phone",
                "Mobile",
                &["Mobile", "Cell", "Mobile Phone", "Cell Phone"],
                FieldKind::Phone,
            ),
            50,
        ),
        text(
            "linkedin_url",
            "LinkedIn",
            &["LinkedIn", "LinkedIn URL"],
            255,
        ),
        text("department", "Department", &["Department", "Dept"], 100),
        text(
            "purchase_influence",
            "Purchase Influence",
            &["Purchase Influence"],
            50,
        ),
        text(
            "decision_authority",
            "Decision Authority",
            &["Decision Authority"],
            50,
        ),
        field(
            "is_primary_contact",
            "Primary",
            &["Primary", "Primary Contact", "Main Contact"],
            FieldKind::YesNo { blank: false },
        ),
        field("notes", "Notes", &["Notes", "Note"], FieldKind::Text),
    ],
    duplicate_keys: &[
        DuplicateKey {
            what: "email",
            fields: &["email"],
        },
        DuplicateKey {
            what: "name",
            fields: &["first_name", "last_name", "organization_id"],
        },
    ],
    match_keys: &[
        MatchKey {
            fields: &["email"],
            within: &[],
            unless_differ: None,
        },
        MatchKey {
            fields: &["first_name", "last_name"],
            within: &["organization_id"],
            unless_differ: None,
        },
    ],
    shown: "first_name || ' ' || last_name || coalesce(' <' || nullif(btrim(email), '') || '>', '')",
    linked_by: Some(LinkedBy {
        name: &["first_name", "last_name"],
        email: Some("email"),
        detail: "coalesce(t.email, '')",
        kind: None,
        organization: Some("organization_id"),
    }),
    charted: &["role", "is_primary_contact"],
    relied_on: &[&["email", "phone", "mobile_phone"]],
    exported_as: &[
        ("first_name", &["Person First Name"]),
        (
            "full_name",
            &["Person Name", "Contact Full Name", "Buyer", "Buyer Name"],
        ),
        (
            "organization_id",
            &[
                "Account Name",
                "Company Name",
                "Associated Company",
                "Primary Associated Company",
                "Related Company",
                "Organization Name",
                "Customer Name",
                "Operator",
            ],
        ),
        ("title", &["Job Position", "Job Function"]),
        ("role", &["Buying Role", "Contact Role"]),
        (
            "email",
            &["Work Email", "Email 1", "Email - Work", "Primary Email"],
        ),
        (
            "phone",
            &[
                "Phone Number",
                "Business Phone",
                "Direct Phone",
                "Phone - Work",
                "Telephone",
                "Work Phone Number",
            ],
        ),
        (
            "mobile_phone",
            &[
                "Mobile Phone Number",
                "Phone - Mobile",
                "Mobile Number",
                "Cell Number",
            ],
        ),
        (
            "linkedin_url",
            &["LinkedIn Profile", "LinkedIn Profile URL"],
        ),
        ("notes", &["Description", "Contact Description", "Comments"]),
    ],
    if_missing: &[],
};

/// SPEC.md, "Products".
pub static PRODUCTS: EntityDescription = EntityDescription {
    entity: Entity::Products,
    table: "products",
    sheet_names: &[
        "products",
        "product",
        "items",
        "catalog",
        "catalogue",
        "pricelist",
    ],
    fields: &[
        required(text(
            "name",
            "Product",
            &["Product", "Product Name", "Name", "Item", "Item Name"],
            255,
        )),
        required(field(
            "principal_id",
            "Principal",
            &["Principal", "Manufacturer", "Brand", "Supplier", "Vendor"],
            link(Entity::Organizations, Some("principal"), false),
        )),
        text(
            "sku",
            "SKU",
            &["SKU", "Item #", "Item No", "Product Code", "Code"],
            100,
        ),
        required(field(
            "category",
            "Category",
            &["Category"],
            FieldKind::Enum {
                enumeration: &PRODUCT_CATEGORIES,
                blank: None,
                unknown: UnknownValue::Fail,
            },
        )),
        field(
            "description",
            "Description",
            &["Description"],
            FieldKind::Text,
        ),
        field(
            "unit_cost",
            "Unit Cost",
            &["Unit Cost", "Cost"],
            FieldKind::Money(10),
        ),
        field(
            "list_price",
            "List Price",
            &["List Price", "Price", "Case Price"],
            FieldKind::Money(10),
        ),
        field(
            "min_order_quantity",
            "Min Order",
            &[
                "Min Order",
                "MOQ",
                "Minimum Order",
                "Minimum Order Quantity",
            ],
            FieldKind::WholeNumber,
        ),
        field(
            "storage_requirements",
            "Storage",
            &["Storage", "Storage Requirements"],
            FieldKind::Text,
        ),
        field(
            "shelf_life_days",
            "Shelf Life",
            &["Shelf Life", "Shelf Life Days"],
            FieldKind::ShelfLifeDays,
        ),
        text("season", "Season", &["Season", "Seasonality"], 100),
        field(
            "specifications",
            "Specifications",
            &["Specifications", "Specs", "Pack Size"],
            FieldKind::Text,
        ),
        field(
            "is_active",
            "Active",
            &["Active", "Is Active"],
            FieldKind::YesNo { blank: true },
        ),
    ],
    duplicate_keys: &[
        DuplicateKey {
            what: "SKU",
            fields: &["sku", "principal_id"],
        },
        DuplicateKey {
            what: "name",
            fields: &["name", "principal_id"],
        },
    ],
    match_keys: &[
        MatchKey {
            fields: &["sku"],
            within: &["principal_id"],
            unless_differ: None,
        },
        MatchKey {
            fields: &["name"],
            within: &["principal_id"],
            unless_differ: None,
        },
    ],
    shown: "name || coalesce(' (SKU ' || nullif(btrim(sku), '') || ')', '')",
    linked_by: None,
    charted: &["category", "is_active"],
    relied_on: &[],
    exported_as: &[
        ("name", &["Product Title", "Item Title"]),
        (
            "principal_id",
            &[
                "Vendor Name",
                "Manufacturer Name",
                "Brand Name",
                "Mfr",
                "Mfg",
                "Vendors",
                "Principal Name",
            ],
        ),
        (
            "sku",
            &[
                "Internal Reference",
                "Part Number",
                "Item Code",
                "Catalog Number",
                "Product ID",
                "Product Number",
            ],
        ),
        ("category", &["Product Category", "Item Category", "Cat"]),
        (
            "description",
            &[
                "Product Description",
                "Sales Description",
                "Item Description",
                "DESC",
            ],
        ),
        (
            "unit_cost",
            &[
                "Purchase Cost",
                "Cost Price",
                "Unit Cost Price",
                "Case Cost",
                "Net Cost",
            ],
        ),
        (
            "list_price",
            &[
                "Unit Price",
                "Sales Price",
                "Sales Price/Rate",
                "Sell Price",
                "Wholesale Price",
                "Selling Price",
            ],
        ),
        (
            "storage_requirements",
            &["Storage Temp", "Storage Temperature"],
        ),
        ("shelf_life_days", &[]),
        (
            "specifications",
            &["Pack", "Case Pack", "Unit", "UOM", "Usage Unit"],
        ),
        ("is_active", &["Product Active"]),
    ],
    // A price list often names its products only in a description column.
    if_missing: &[(
        "name",
        &[
            "Description",
            "Item Description",
            "Product Description",
            "Sales Description",
        ],
    )],
};

/// SPEC.md, "Opportunities".
pub static OPPORTUNITIES: EntityDescription = EntityDescription {
    entity: Entity::Opportunities,
    table: "opportunities",
    sheet_names: &["opportunities", "opportunity", "deals", "pipeline"],
    fields: &[
        required(text(
            "name",
            "Opportunity",
            &[
                "Opportunity",
                "Opportunity Name",
                "Deal",
                "Deal Name",
                "Name",
            ],
            255,
        )),
        required(field(
            "organization_id",
            "Organization",
            &["Organization", "Customer", "Account", "Company", "Operator"],
            link(Entity::Organizations, None, false),
        )),
        field(
            "contact_id",
            "Contact",
            &["Contact"],
            link(Entity::Contacts, None, true),
        ),
        field(
            "principal_id",
            "Principal",
            &["Principal", "Manufacturer", "Mfr"],
            link(Entity::Organizations, Some("principal"), false),
        ),
        field(
            "distributor_id",
            "Distributor",
            &["Distributor"],
            link(Entity::Organizations, Some("distributor"), false),
        ),
        field(
            "stage",
            "Stage",
            &["Stage"],
            FieldKind::Enum {
                enumeration: &OPPORTUNITY_STAGES,
                blank: Some("New Lead"),
                unknown: UnknownValue::Default("New Lead"),
            },
        ),
        field(
            "estimated_value",
            "Value",
            &[
                "Value",
                "Estimated Value",
                "Amount",
                "Deal Size",
                "Annual Value",
            ],
            FieldKind::Money(13),
        ),
        field(
            "probability",
            "Probability",
            &["Probability", "Win %", "Chance"],
            FieldKind::Probability,
        ),
        field(
            "expected_close_date",
            "Close Date",
            &["Close Date", "Expected Close", "Expected Close Date"],
            FieldKind::Date,
        ),
        field(
            "next_action",
            "Next Action",
            &["Next Action", "Next Step"],
            FieldKind::Text,
        ),
        field(
            "competition",
            "Competition",
            &["Competition", "Competitors"],
            FieldKind::Text,
        ),
        field(
            "decision_criteria",
            "Decision Criteria",
            &["Decision Criteria"],
            FieldKind::Text,
        ),
        field("notes", "Notes", &["Notes", "Note"], FieldKind::Text),
    ],
    duplicate_keys: &[],
    match_keys: &[MatchKey {
        fields: &["name"],
        within: &["organization_id"],
        unless_differ: None,
    }],
    shown: "name",
    linked_by: Some(LinkedBy {
        name: &["name"],
        email: None,
        detail: "coalesce((SELECT o.name FROM organizations o WHERE o.id = t.organization_id), '')",
        kind: None,
        organization: Some("organization_id"),
    }),
    charted: &["stage"],
    relied_on: &[],
    exported_as: &[
        (
            "name",
            &["Title", "Topic", "Opportunity Title", "Deal Title"],
        ),
        (
            "organization_id",
            &[
                "Account Name",
                "Company Name",
                "Customer Name",
                "Associated Company",
                "Primary Associated Company",
                "Potential Customer",
                "Organization Name",
            ],
        ),
        (
            "contact_id",
            &["Contact Name", "Contact Person", "Primary Contact"],
        ),
        (
            "stage",
            &["Deal Stage", "Stage Name", "Sales Stage", "Pipeline Stage"],
        ),
        (
            "estimated_value",
            &[
                "Deal Value",
                "Opportunity Amount",
                "Est. Revenue",
                "Est. Value",
                "Est. Annual $",
                "Expected Revenue",
            ],
        ),
        ("probability", &["Deal Probability", "Win Probability"]),
        (
            "expected_close_date",
            &["Closing Date", "Est. Close Date", "Expected Closing"],
        ),
        ("next_action", &["Next Steps"]),
        ("notes", &["Description", "Deal Description", "Comments"]),
    ],
    if_missing: &[],
};

/// SPEC.md, "Interactions".
pub static INTERACTIONS: EntityDescription = EntityDescription {
    entity: Entity::Interactions,
    table: "interactions",
    sheet_names: &[
        "interactions",
        "interaction",
        "activities",
        "activity",
        "activitylog",
        "calls",
        "visits",
    ],
    fields: &[
        required(field(
            "type",
            "Type",
            &["Type", "Activity", "Activity Type", "Interaction Type"],
            FieldKind::Enum {
                enumeration: &INTERACTION_TYPES,
                blank: None,
                unknown: UnknownValue::Fail,
            },
        )),
        required(text(
            "subject",
            "Subject",
            &["Subject", "Summary", "Title", "Topic"],
            255,
        )),
        required(field(
            "interaction_date",
            "Date",
            &["Date", "Interaction Date", "Activity Date", "When"],
            FieldKind::DateTime,
        )),
        field(
            "description",
            "Description",
            &["Description", "Details"],
            FieldKind::Text,
        ),
        field(
            "duration_minutes",
            "Duration",
            &["Duration", "Minutes", "Duration Minutes"],
            FieldKind::DurationMinutes,
        ),
        field(
            "follow_up_required",
            "Follow Up",
            &["Follow Up", "Follow-up Required", "Follow Up Needed"],
            FieldKind::YesNo { blank: false },
        ),
        field(
            "follow_up_date",
            "Follow Up Date",
            &["Follow Up Date"],
            FieldKind::Date,
        ),
        field(
            "follow_up_notes",
            "Follow Up Notes",
            &["Follow Up Notes"],
            FieldKind::Text,
        ),
        field(
            "outcome",
            "Outcome",
            &["Outcome", "Result"],
            FieldKind::Text,
        ),
        field(
            "contact_id",
            "Contact",
            &["Contact"],
            link(Entity::Contacts, None, true),
        ),
        field(
            "organization_id",
            "Organization",
            &["Organization", "Company", "Account", "Customer"],
            link(Entity::Organizations, None, false),
        ),
        field(
            "opportunity_id",
            "Opportunity",
            &["Opportunity", "Deal"],
            link(Entity::Opportunities, None, true),
        ),
    ],
    duplicate_keys: &[],
    match_keys: &[MatchKey {
        fields: &["interaction_date", "type", "subject"],
        within: &["organization_id"],
        unless_differ: None,
    }],
    shown: "subject || ' (' || to_char(interaction_date, 'YYYY-MM-DD') || ')'",
    linked_by: None,
    charted: &["type", "follow_up_required"],
    relied_on: &[],
    exported_as: &[
        (
            "type",
            &[
                "Task Type",
                "Call Type",
                "Task Subtype",
                "Activity Subtype",
                "Kind",
            ],
        ),
        ("subject", &["Call Title", "Meeting Name", "Task Title"]),
        (
            "interaction_date",
            &["Due Date", "Start Date", "Meeting Start Time"],
        ),
        (
            "description",
            &[
                "Note",
                "Notes",
                "Comments",
                "Call Notes",
                "Meeting Description",
            ],
        ),
        ("duration_minutes", &["Mins", "Call Duration", "Length"]),
        (
            "outcome",
            &["Call Outcome", "Meeting Outcome", "Call Result"],
        ),
        ("contact_id", &["Contact Person", "Contact Name", "Person"]),
        (
            "organization_id",
            &[
                "Account Name",
                "Company Name",
                "Customer Name",
                "Organization Name",
                "Related To",
            ],
        ),
        (
            "opportunity_id",
            &["Deal Name", "Opportunity Name", "Regarding"],
        ),
    ],
    if_missing: &[],
};
