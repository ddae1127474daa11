//! Leads: turning spreadsheet exports into validated lead records.
//!
//! Leads arrive as CSV or tab-separated exports from Excel (any locale), Google Sheets,
//! LibreOffice and CRMs (HubSpot, Salesforce, Apollo). [`SheetReader`] streams such a file row by
//! row, maps its columns to [`LeadRecord`] fields whatever the header's spelling, and reports
//! each bad row as a [`RowError`] carrying the file and the row number a spreadsheet shows,
//! without stopping the good rows. [`Email`] is the one place an address is parsed and
//! normalized; [`freemail`] tells a company domain from a free-mail provider.

pub mod disposable;
pub mod email;
pub mod file;
pub mod freemail;
pub mod sheet;
pub mod vcard;

pub use disposable::disposable;
pub use email::{Email, EmailError};
pub use file::LeadFile;
pub use sheet::{
    ColumnMap, FieldProblem, LeadRecord, MappingError, RowError, SheetError, SheetReader, SheetRow,
    lead_from_named,
};
