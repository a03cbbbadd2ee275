//! The value rules of the four entities after organizations (SPEC: "The other four
//! entities", **Numbers** and **Dates**): each function reads one cell that the caller has
//! already trimmed and found non-empty, and gives a typed value or a message a food broker
//! understands. Nothing here touches a database, a window or a file, so every rule can be
//! tested, and fuzzed, on its own.
//!
//! Numbers are read digit by digit before any arithmetic, so that a pasted `1e400` or a
//! 40-digit cell is reported as a value the CRM cannot hold instead of overflowing.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// A value read from a cell, with a note when a rule changed what was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// What is imported.
    pub value: T,
    /// Says what was written and what was imported, when the two differ.
    pub warning: Option<String>,
}

/// `Err` is a message that fails the row, e.g. "'12,50' is not an amount in US format (like 1,234.50)".
pub type ValueResult<T> = Result<Parsed<T>, String>;

fn plain<T>(value: T) -> ValueResult<T> {
    Ok(Parsed {
        value,
        warning: None,
    })
}

fn warned<T>(value: T, warning: String) -> ValueResult<T> {
    Ok(Parsed {
        value,
        warning: Some(warning),
    })
}

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

/// A non-negative number written in US format, kept as its digits so that its size can be
/// judged before it is turned into anything that could overflow.
#[derive(Debug)]
struct UsNumber {
    /// Digits left of the point, without `,` and without leading zeros (empty for zero).
    int: String,
    /// Digits right of the point, as written.
    frac: String,
}

impl UsNumber {
    fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.bytes().all(|b| b == b'0')
    }

    fn frac_is_zero(&self) -> bool {
        self.frac.bytes().all(|b| b == b'0')
    }

    /// The value, for the small quantities (days, minutes, percentages) that are computed
    /// with; `None` when it is too large to be any of them.
    fn to_decimal(&self) -> Option<Decimal> {
        // 15 + 12 digits fit the 28 a Decimal holds; the digits cut beyond 12 decimals
        // cannot change a result that is rounded to whole days, minutes or percents.
        if self.int.len() > 15 {
            return None;
        }
        let frac: String = self.frac.chars().take(12).collect();
        let digits = format!("{}{frac}", self.int);
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        Decimal::try_from_i128_with_scale(mantissa, u32::try_from(frac.len()).ok()?).ok()
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Reads `1234.5`, `1,234.50`, `.5`, `12.`: `,` only between groups of three digits, `.`
/// only once. `None` for anything else, including signs, which the callers handle.
fn us_number(text: &str) -> Option<UsNumber> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (text, None),
    };
    if let Some(frac) = frac_part
        && !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let int_ok = if int_part.contains(',') {
        let mut groups = int_part.split(',');
        let first_ok = groups
            .next()
            .is_some_and(|first| first.len() <= 3 && all_digits(first));
        first_ok && groups.all(|group| group.len() == 3 && all_digits(group))
    } else {
        int_part.bytes().all(|b| b.is_ascii_digit())
    };
    if !int_ok || (int_part.is_empty() && frac_part.is_none_or(str::is_empty)) {
        return None;
    }
    Some(UsNumber {
        int: int_part
            .chars()
            .filter(char::is_ascii_digit)
            .skip_while(|&c| c == '0')
            .collect(),
        frac: frac_part.unwrap_or_default().to_owned(),
    })
}

/// Takes one leading sign off: `Some(true)` for a minus (also the typographic `−` that word
/// processors put in), `Some(false)` for a plus.
fn strip_sign(text: &str) -> (Option<bool>, &str) {
    if let Some(rest) = text.strip_prefix('-').or_else(|| text.strip_prefix('−')) {
        (Some(true), rest.trim_start())
    } else if let Some(rest) = text.strip_prefix('+') {
        (Some(false), rest.trim_start())
    } else {
        (None, text)
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.get(cut..)?;
    if tail.eq_ignore_ascii_case(suffix) {
        text.get(..cut)
    } else {
        None
    }
}

/// The currency marks a US amount is written with; `US$` before `$` so that it is taken
/// whole.
const CURRENCY_MARKS: [&str; 3] = ["US$", "USD", "$"];

/// Takes the parentheses, sign and currency mark off an amount, each at most once and in
/// any order (`-$12`, `$-12`, `($12.00)`, `12 USD`), and says whether it was negative.
/// `None` for a contradiction such as `(-12)`, which no one writes on purpose.
fn strip_money_marks(text: &str) -> Option<(bool, &str)> {
    let mut rest = text.trim();
    let mut parentheses = false;
    let mut sign = None;
    let mut currency = false;
    loop {
        let before = rest.len();
        if !parentheses && rest.len() >= 2 && rest.starts_with('(') && rest.ends_with(')') {
            rest = rest.get(1..rest.len() - 1).unwrap_or_default();
            parentheses = true;
        } else if sign.is_none() && rest.starts_with(['-', '−', '+']) {
            let (found, after) = strip_sign(rest);
            sign = found;
            rest = after;
        } else if !currency {
            for mark in CURRENCY_MARKS {
                if let Some(after) = strip_prefix_ignore_case(rest, mark)
                    .or_else(|| strip_suffix_ignore_case(rest, mark))
                {
                    rest = after;
                    currency = true;
                    break;
                }
            }
        }
        rest = rest.trim();
        if rest.len() == before {
            break;
        }
    }
    if parentheses && sign.is_some() {
        return None;
    }
    Some((parentheses || sign == Some(true), rest))
}

/// Digits left of the point a `Decimal` can carry with two decimals; a column wider than
/// this is treated as this wide.
const MONEY_DIGITS_LIMIT: u32 = 26;

/// `9,999,999,999.99` for 10 digits: the largest amount a column holds, as a broker writes it.
fn largest_amount(integer_digits: u32) -> String {
    if integer_digits == 0 {
        return "0.99".to_owned();
    }
    let nines = "9".repeat(integer_digits as usize);
    format!("{}.99", group_thousands(&nines))
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Money in US format: `1234.5`, `$1,234.50`, `1,234`, `USD 12`, `12 $` ok; `,` thousands (groups of 3 only; `1,23` fails), `.` decimals.
/// `(12.00)` and `-12` and `-$12` are negative, and negative money fails the row ("Negative amount '-12': amounts must be 0 or more").
/// More than 2 decimals: rounded half away from zero to 2, with a warning naming original and result.
/// `max_integer_digits` is the column's room left of the point (NUMERIC(12,2) -> 10, NUMERIC(15,2) -> 13); more fails the row saying the largest amount the CRM holds.
/// Anything else (text, `12,50`, `1.234,50`, empty after stripping `$`) fails naming the value.
///
/// A zero written negative (`(0)`, `-0.00`) is 0: accounting formats write zero that way.
/// The value always has two decimals (`12` gives `12.00`).
pub fn money(text: &str, max_integer_digits: u32) -> ValueResult<Decimal> {
    let quoted = shorten(text);
    let not_amount = || format!("'{quoted}' is not an amount in US format (like 1,234.50)");
    let Some((negative, body)) = strip_money_marks(text) else {
        return Err(not_amount());
    };
    let Some(number) = us_number(body) else {
        return Err(not_amount());
    };
    if negative && !number.is_zero() {
        return Err(format!(
            "Negative amount '{quoted}': amounts must be 0 or more"
        ));
    }
    let room = max_integer_digits.min(MONEY_DIGITS_LIMIT);
    let too_large = || {
        format!(
            "'{quoted}' is more than the largest amount the CRM holds ({})",
            largest_amount(room)
        )
    };
    if number.int.len() > room as usize {
        return Err(too_large());
    }
    // Half away from zero on a non-negative amount depends on the third decimal alone.
    let mut frac = number.frac.bytes();
    let mut next_digit = || frac.next().map_or(0, |b| i128::from(b - b'0'));
    let (tenths, hundredths, thousandths) = (next_digit(), next_digit(), next_digit());
    let whole: i128 = if number.int.is_empty() {
        0
    } else {
        number.int.parse().map_err(|_| too_large())?
    };
    let mut cents = whole * 100 + tenths * 10 + hundredths;
    if thousandths >= 5 {
        cents += 1;
    }
    if cents >= 10_i128.pow(room + 2) {
        return Err(too_large());
    }
    let value = Decimal::try_from_i128_with_scale(cents, 2).map_err(|_| too_large())?;
    let dropped = number.frac.get(2..).unwrap_or_default();
    if dropped.bytes().any(|b| b != b'0') {
        return warned(
            value,
            format!("'{quoted}' imported as {value} (amounts keep 2 decimals)"),
        );
    }
    plain(value)
}

/// A whole number such as a minimum order quantity: `12`, `1,000`, `12.0` ok; `12.5` fails; negative fails; beyond i32 fails.
pub fn whole_number(text: &str) -> ValueResult<i32> {
    let quoted = shorten(text);
    let not_whole = || format!("'{quoted}' is not a whole number (like 12 or 1,000)");
    let (sign, body) = strip_sign(text.trim());
    let Some(number) = us_number(body) else {
        return Err(not_whole());
    };
    if !number.frac_is_zero() {
        return Err(not_whole());
    }
    if sign == Some(true) && !number.is_zero() {
        return Err(format!("Negative number '{quoted}': it must be 0 or more"));
    }
    let value = if number.int.is_empty() {
        Some(0)
    } else if number.int.len() > 10 {
        None
    } else {
        number.int.parse::<i32>().ok()
    };
    value.map_or_else(
        || {
            Err(format!(
                "'{quoted}' is more than the largest whole number the CRM holds (2,147,483,647)"
            ))
        },
        plain,
    )
}

// ---------------------------------------------------------------------------------------
// Quantities with units: shelf life and durations
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
enum Token<'a> {
    Number(UsNumber),
    Word(&'a str),
}

/// Why a quantity could not be read; each rule words these its own way.
#[derive(Debug, PartialEq)]
enum QuantityFail {
    Unreadable,
    Negative,
    TooLarge,
    /// `1:90`: minutes or seconds after a `:` that are 60 or more.
    ClockOver,
}

/// Splits `1h 30m`, `1.5 years`, `1 hour and 30 minutes` into numbers and unit words
/// (lower case); `None` when anything else is there. The bool says a minus led it.
fn quantity_tokens(lower: &str) -> Option<(bool, Vec<Token<'_>>)> {
    let (sign, rest) = strip_sign(lower.trim());
    let mut tokens = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() || c == ',' {
            chars.next();
        } else if c.is_ascii_digit() || c == '.' {
            let mut end = start;
            while let Some(&(index, c)) = chars.peek() {
                let after = index + c.len_utf8();
                let digit_follows = rest
                    .get(after..)
                    .is_some_and(|tail| tail.starts_with(|n: char| n.is_ascii_digit()));
                if c.is_ascii_digit() || ((c == ',' || c == '.') && digit_follows) {
                    end = after;
                    chars.next();
                } else {
                    break;
                }
            }
            let number = us_number(rest.get(start..end)?)?;
            tokens.push(Token::Number(number));
        } else if c.is_alphabetic() {
            let mut end = start;
            while let Some(&(index, c)) = chars.peek() {
                if c.is_alphabetic() {
                    end = index + c.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let word = rest.get(start..end)?;
            if word != "and" {
                tokens.push(Token::Word(word));
            }
        } else {
            return None;
        }
    }
    Some((sign == Some(true), tokens))
}

/// Adds up `number unit` pairs in a base unit. `factor(unit, previous unit)` gives how many
/// base units one of `unit` is, or `None` when the unit is not one the rule takes there; a
/// bare number has no unit, and is the previous unit `""` of the part after it; the first
/// part has no previous unit. Also gives each part's unit (`""` when bare).
fn sum_quantity(
    text: &str,
    factor: impl Fn(Option<&str>, Option<&str>) -> Option<Decimal>,
) -> Result<(Decimal, Vec<String>), QuantityFail> {
    let lower = text.to_lowercase();
    let (negative, tokens) = quantity_tokens(&lower).ok_or(QuantityFail::Unreadable)?;
    let mut total = Decimal::ZERO;
    let mut units = Vec::new();
    let mut previous: Option<&str> = None;
    let mut any_non_zero = false;
    let mut tokens = tokens.into_iter().peekable();
    if tokens.peek().is_none() {
        return Err(QuantityFail::Unreadable);
    }
    while let Some(token) = tokens.next() {
        let Token::Number(number) = token else {
            return Err(QuantityFail::Unreadable);
        };
        let unit = match tokens.peek() {
            Some(Token::Word(word)) => {
                let word = *word;
                tokens.next();
                Some(word)
            }
            _ => None,
        };
        let per_unit = factor(unit, previous).ok_or(QuantityFail::Unreadable)?;
        let amount = number.to_decimal().ok_or(QuantityFail::TooLarge)?;
        any_non_zero |= !number.is_zero();
        total = amount
            .checked_mul(per_unit)
            .and_then(|part| total.checked_add(part))
            .ok_or(QuantityFail::TooLarge)?;
        units.push(unit.unwrap_or_default().to_owned());
        previous = Some(unit.unwrap_or_default());
    }
    if negative && any_non_zero {
        return Err(QuantityFail::Negative);
    }
    Ok((total, units))
}

fn round_to_i32(value: Decimal) -> Option<(i32, bool)> {
    let rounded = value.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    Some((rounded.to_i32()?, rounded != value))
}

const DAY_WORDS: [&str; 5] = ["d", "day", "days", "dy", "dys"];
const WEEK_WORDS: [&str; 5] = ["w", "wk", "wks", "week", "weeks"];
const MONTH_WORDS: [&str; 8] = ["mo", "mos", "mon", "mons", "mth", "mths", "month", "months"];
const YEAR_WORDS: [&str; 5] = ["y", "yr", "yrs", "year", "years"];

/// Shelf life in days: `90`, `90 days`, `90d`, `3 weeks`/`3 wk`/`3w` (21), `6 months`/`6 mo` (180, with warning "'6 months' imported as 180 days (a month counts 30 days)"), whole years written as months as years (`12 months` is 365), `1 year`/`1 yr`/`1y` (365), `1.5 years` (548, rounded), singular or plural, any case. Negative or unreadable fails, naming the value and the accepted forms.
///
/// Parts add up (`1 year 6 months` is 545 days); a bare number is days only when it stands
/// alone. A result that had to be rounded to whole days is imported with a warning.
pub fn shelf_life_days(text: &str) -> ValueResult<i32> {
    let quoted = shorten(text);
    let days_in = |unit: Option<&str>, _previous: Option<&str>| {
        let days = match unit {
            None => 1,
            Some(unit) if DAY_WORDS.contains(&unit) => 1,
            Some(unit) if WEEK_WORDS.contains(&unit) => 7,
            Some(unit) if MONTH_WORDS.contains(&unit) => 30,
            Some(unit) if YEAR_WORDS.contains(&unit) => 365,
            Some(_) => return None,
        };
        Some(Decimal::from(days))
    };
    let too_large =
        || format!("'{quoted}' is more days than the CRM holds (at most 2,147,483,647 days)");
    let (total, units) = match sum_quantity(text, days_in) {
        Ok(read) => read,
        Err(QuantityFail::Negative) => {
            return Err(format!(
                "Negative shelf life '{quoted}': it must be 0 days or more"
            ));
        }
        Err(QuantityFail::TooLarge) => return Err(too_large()),
        Err(QuantityFail::Unreadable | QuantityFail::ClockOver) => {
            return Err(format!(
                "'{quoted}' is not a shelf life: write days, weeks, months or years, \
                 like 90, 90 days, 3 weeks, 6 months or 1 year"
            ));
        }
    };
    // A bare number is days only alone: `1 year 6` says nothing about what the 6 is.
    if units.len() > 1 && units.iter().any(String::is_empty) {
        return Err(format!(
            "'{quoted}' is not a shelf life: write days, weeks, months or years, \
             like 90, 90 days, 3 weeks, 6 months or 1 year"
        ));
    }
    // Whole years written as months ("12 months", "24 mos") count as years.
    let year = Decimal::from(360);
    let whole_years = matches!(units.as_slice(), [unit] if MONTH_WORDS.contains(&unit.as_str()))
        && !total.is_zero()
        && (total % year).is_zero();
    let total = if whole_years {
        total / year * Decimal::from(365)
    } else {
        total
    };
    let Some((days, rounded)) = round_to_i32(total) else {
        return Err(too_large());
    };
    let months = !whole_years
        && units
            .iter()
            .any(|unit| MONTH_WORDS.contains(&unit.as_str()));
    match (months, rounded) {
        (true, false) => warned(
            days,
            format!("'{quoted}' imported as {days} days (a month counts 30 days)"),
        ),
        (true, true) => warned(
            days,
            format!(
                "'{quoted}' imported as {days} days (a month counts 30 days, rounded to whole days)"
            ),
        ),
        (false, true) => warned(
            days,
            format!("'{quoted}' imported as {days} days (rounded to whole days)"),
        ),
        (false, false) => plain(days),
    }
}

const SECOND_WORDS: [&str; 5] = ["s", "sec", "secs", "second", "seconds"];
const MINUTE_WORDS: [&str; 5] = ["m", "min", "mins", "minute", "minutes"];
const HOUR_WORDS: [&str; 6] = ["h", "hr", "hrs", "hour", "hours", "hs"];

/// `1:30` (h:mm) and `1:30:00` (h:mm:ss, how a workbook writes a duration cell), in seconds.
fn clock_seconds(text: &str) -> Result<Decimal, QuantityFail> {
    let (sign, body) = strip_sign(text.trim());
    let parts: Vec<&str> = body.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [hours, minutes] => (*hours, *minutes, None),
        [hours, minutes, seconds] => (*hours, *minutes, Some(*seconds)),
        _ => return Err(QuantityFail::Unreadable),
    };
    if !all_digits(hours) || !all_digits(minutes) || minutes.len() > 2 {
        return Err(QuantityFail::Unreadable);
    }
    let hours = hours.trim_start_matches('0');
    if hours.len() > 9 {
        return Err(QuantityFail::TooLarge);
    }
    let hours: i64 = if hours.is_empty() {
        0
    } else {
        hours.parse().map_err(|_| QuantityFail::TooLarge)?
    };
    let minutes: i64 = minutes.parse().map_err(|_| QuantityFail::Unreadable)?;
    let seconds = match seconds {
        None => Decimal::ZERO,
        Some(seconds) => {
            let whole = seconds.split('.').next().unwrap_or_default();
            if seconds.contains(',') || whole.is_empty() || whole.len() > 2 {
                return Err(QuantityFail::Unreadable);
            }
            us_number(seconds)
                .and_then(|number| number.to_decimal())
                .ok_or(QuantityFail::Unreadable)?
        }
    };
    if minutes >= 60 || seconds >= Decimal::from(60) {
        return Err(QuantityFail::ClockOver);
    }
    let total = Decimal::from(hours * 3600 + minutes * 60) + seconds;
    if sign == Some(true) && !total.is_zero() {
        return Err(QuantityFail::Negative);
    }
    Ok(total)
}

/// ISO 8601 durations (`PT1H30M`), which OpenDocument workbooks give for duration cells.
fn iso_duration_seconds(text: &str) -> Result<Decimal, QuantityFail> {
    let upper = text.trim().to_ascii_uppercase();
    let (sign, body) = strip_sign(&upper);
    let rest = body.strip_prefix('P').ok_or(QuantityFail::Unreadable)?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((date_part, time_part)) if !time_part.is_empty() => (date_part, time_part),
        Some(_) => return Err(QuantityFail::Unreadable),
        None => (rest, ""),
    };
    let mut total = Decimal::ZERO;
    let mut any = false;
    let sections: [(&str, &[(char, i64)]); 2] = [
        (date_part, &[('W', 604_800), ('D', 86_400)]),
        (time_part, &[('H', 3600), ('M', 60), ('S', 1)]),
    ];
    for (section, designators) in sections {
        let mut rest = section;
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or(QuantityFail::Unreadable)?;
            let (number, tail) = rest.split_at(end);
            let designator = tail.chars().next().ok_or(QuantityFail::Unreadable)?;
            let (_, per) = designators
                .iter()
                .find(|(known, _)| *known == designator)
                .ok_or(QuantityFail::Unreadable)?;
            let amount = us_number(number)
                .ok_or(QuantityFail::Unreadable)?
                .to_decimal()
                .ok_or(QuantityFail::TooLarge)?;
            total = amount
                .checked_mul(Decimal::from(*per))
                .and_then(|part| total.checked_add(part))
                .ok_or(QuantityFail::TooLarge)?;
            any = true;
            rest = tail.get(designator.len_utf8()..).unwrap_or_default();
        }
    }
    if !any {
        return Err(QuantityFail::Unreadable);
    }
    if sign == Some(true) && !total.is_zero() {
        return Err(QuantityFail::Negative);
    }
    Ok(total)
}

/// Duration in minutes: `45`, `45 min`, `45 minutes`, `45m`, `1h 30m`, `1 hr 30 min`, `1.5 hours`, `2 hrs`, `1:30` (h:mm), `1:30:00` (h:mm:ss, as a workbook duration cell is written), rounded to whole minutes. Negative or unreadable fails.
///
/// Also read: seconds (`90 sec`), days (`1 day`), minutes written bare after hours
/// (`1h 30`), and ISO durations (`PT1H30M`) from OpenDocument workbooks. `1:90` fails:
/// minutes after a `:` go up to 59. Rounding to whole minutes is imported with a warning.
pub fn duration_minutes(text: &str) -> ValueResult<i32> {
    let quoted = shorten(text);
    let seconds_in = |unit: Option<&str>, previous: Option<&str>| {
        let seconds = match unit {
            // Bare minutes: alone (`45`), or after hours (`1h 30`).
            None if previous.is_none_or(|previous| HOUR_WORDS.contains(&previous)) => 60,
            None => return None,
            Some(unit) if SECOND_WORDS.contains(&unit) => 1,
            Some(unit) if MINUTE_WORDS.contains(&unit) => 60,
            Some(unit) if HOUR_WORDS.contains(&unit) => 3600,
            Some(unit) if DAY_WORDS.contains(&unit) => 86_400,
            Some(_) => return None,
        };
        Some(Decimal::from(seconds))
    };
    let trimmed = text.trim();
    let seconds = if trimmed.contains(':') {
        clock_seconds(trimmed)
    } else if trimmed
        .trim_start_matches(['-', '−', '+'])
        .starts_with(['P', 'p'])
    {
        iso_duration_seconds(trimmed)
    } else {
        sum_quantity(trimmed, seconds_in).and_then(|(total, units)| {
            // `45 1h`: a bare number first is minutes only when it stands alone.
            if units.len() > 1 && units.first().is_some_and(String::is_empty) {
                Err(QuantityFail::Unreadable)
            } else {
                Ok(total)
            }
        })
    };
    let too_large = || format!("'{quoted}' is more minutes than the CRM holds");
    let seconds = match seconds {
        Ok(seconds) => seconds,
        Err(QuantityFail::Negative) => {
            return Err(format!(
                "Negative duration '{quoted}': it must be 0 minutes or more"
            ));
        }
        Err(QuantityFail::TooLarge) => return Err(too_large()),
        Err(QuantityFail::ClockOver) => {
            return Err(format!(
                "'{quoted}' is not a duration: after a ':' come minutes (and seconds) \
                 from 00 to 59, like 1:30 for an hour and a half"
            ));
        }
        Err(QuantityFail::Unreadable) => {
            return Err(format!(
                "'{quoted}' is not a duration: write minutes or hours, \
                 like 45, 45 min, 1h 30m, 1.5 hours or 1:30"
            ));
        }
    };
    let minutes = seconds
        .checked_div(Decimal::from(60))
        .ok_or_else(too_large)?;
    let Some((minutes, rounded)) = round_to_i32(minutes) else {
        return Err(too_large());
    };
    if rounded {
        return warned(
            minutes,
            format!("'{quoted}' imported as {minutes} minutes (rounded to whole minutes)"),
        );
    }
    plain(minutes)
}

// ---------------------------------------------------------------------------------------
// Probability and yes/no
// ---------------------------------------------------------------------------------------

/// Probability 0-100: `75%`, `75`, `75 %` are 75; a plain number strictly between 0 and 1 without `%` (`0.75`) is a fraction: 75 with warning "'0.75' read as 75%"; non-integral percentages are rounded with a warning; over 100 or negative fails ("Probability '120' must be between 0 and 100").
///
/// `75 percent` and `75 pct` are read as `75%`. A value over 100 fails even when rounding
/// would bring it to 100 (`100.4`), since it was written out of range.
pub fn probability(text: &str) -> ValueResult<i32> {
    let quoted = shorten(text);
    let out_of_range = || format!("Probability '{quoted}' must be between 0 and 100");
    let trimmed = text.trim();
    let (percent, body) = ["%", "percent", "pct"]
        .iter()
        .find_map(|mark| strip_suffix_ignore_case(trimmed, mark))
        .map_or((false, trimmed), |body| (true, body.trim_end()));
    let (sign, body) = strip_sign(body);
    let Some(number) = us_number(body) else {
        return Err(format!(
            "'{quoted}' is not a probability: write a number from 0 to 100, like 75 or 75%"
        ));
    };
    if sign == Some(true) && !number.is_zero() {
        return Err(out_of_range());
    }
    let value = number.to_decimal().ok_or_else(out_of_range)?;
    let fraction = !percent && value > Decimal::ZERO && value < Decimal::ONE;
    let percentage = if fraction {
        value * Decimal::ONE_HUNDRED
    } else {
        value
    };
    if percentage > Decimal::ONE_HUNDRED {
        return Err(out_of_range());
    }
    let Some((whole, rounded)) = round_to_i32(percentage) else {
        return Err(out_of_range());
    };
    match (fraction, rounded) {
        (true, false) => warned(whole, format!("'{quoted}' read as {whole}%")),
        (true, true) => warned(
            whole,
            format!("'{quoted}' read as {whole}% (rounded to a whole percent)"),
        ),
        (false, true) => warned(
            whole,
            format!("'{quoted}' imported as {whole}% (rounded to a whole percent)"),
        ),
        (false, false) => plain(whole),
    }
}

/// yes/no, y/n, true/false, x (yes), 1/0, on/off, checked, ✓/✔ (yes); any case. `None` when not recognised (the caller decides the default and the warning).
///
/// Also `unchecked` and the ballot boxes `☑`/`☒` (yes) and `☐` (no), which checkbox columns
/// pasted from other programs hold.
pub fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "x" | "1" | "on" | "checked" | "✓" | "✔" | "☑" | "☒" => {
            Some(true)
        }
        "no" | "n" | "false" | "0" | "off" | "unchecked" | "☐" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------

/// How an all-numeric date like `3/4/2024` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// `3/4/2024` is March 4 (US).
    #[default]
    MonthFirst,
    /// `3/4/2024` is April 3.
    DayFirst,
}

/// The years a broker's date can be in; anything else is a typo (`3/14/0224`) that would
/// otherwise be stored as a real, far-off date.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// `24` is 2024 and `85` is 1985 (00-69 are 2000s, 70-99 are 1900s, as Excel reads them).
fn year_from(text: &str) -> Option<i32> {
    if !all_digits(text) {
        return None;
    }
    let number: i32 = text.parse().ok()?;
    match text.len() {
        2 if number < 70 => Some(2000 + number),
        2 => Some(1900 + number),
        4 => Some(number),
        _ => None,
    }
}

fn small_number(text: &str) -> Option<u32> {
    if text.len() > 2 || !all_digits(text) {
        return None;
    }
    text.parse().ok()
}

/// `a/b/y` with one separator, `/`, `-` or `.`, used twice: the three parts as written.
fn numeric_triple(text: &str) -> Option<[&str; 3]> {
    let separator = text.chars().find(|c| !c.is_ascii_digit())?;
    if !['/', '-', '.'].contains(&separator) {
        return None;
    }
    let mut parts = text.split(separator);
    let triple = [parts.next()?, parts.next()?, parts.next()?];
    if parts.next().is_some() || !triple.iter().all(|part| all_digits(part)) {
        return None;
    }
    Some(triple)
}

/// For the column-level guess: the first two numbers of a numeric date written `a/b/yyyy`, `a/b/yy`, `a-b-yyyy` or `a.b.yyyy` (not ISO `yyyy-mm-dd`), else None.
///
/// Also `a-b-yy` and `a.b.yy`, and a date followed by a time (`3/4/2024 10:30`), as
/// [`date`] reads them. `None` too when neither order makes a real date (`2/30/2024`,
/// `45/3/2024`), so that a typo cannot tip a column's guess: that row fails on its own.
pub fn numeric_date_parts(text: &str) -> Option<(u32, u32)> {
    let first = text.split_whitespace().next()?;
    let [a, b, year] = numeric_triple(first)?;
    let (a, b) = (small_number(a)?, small_number(b)?);
    let year = year_from(year)?;
    let real = |month, day| NaiveDate::from_ymd_opt(year, month, day).is_some();
    (real(a, b) || real(b, a)).then_some((a, b))
}

const MONTHS: [(&str, u32); 24] = [
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
    ("sept", 9),
];

const WEEKDAYS: [&str; 17] = [
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
];

fn month_number(word: &str) -> Option<u32> {
    let lower = word.to_lowercase();
    MONTHS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, number)| *number)
}

/// `14`, `14th`, `1st`: a day of the month as words write it.
fn day_number(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| lower.strip_suffix(suffix))
        .unwrap_or(&lower);
    small_number(digits)
}

/// Why a date could not be read.
enum DateFail {
    Unreadable,
    /// Read, but no such day; carries the part that is no month in the order used.
    NotReal {
        bad_month: Option<(u32, DateOrder)>,
    },
    YearOutOfRange(i32),
}

fn checked_date(year: i32, month: u32, day: u32) -> Result<NaiveDate, DateFail> {
    if !YEARS.contains(&year) {
        return Err(DateFail::YearOutOfRange(year));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateFail::NotReal { bad_month: None })
}

/// A date without a time of day.
fn date_only(text: &str, order: DateOrder) -> Result<NaiveDate, DateFail> {
    let text = text.trim();
    if let Some([a, b, c]) = numeric_triple(text) {
        if a.len() == 4 {
            // Year first (`2024-03-14`, `2024/3/14`) is never day-first.
            let year = year_from(a).ok_or(DateFail::Unreadable)?;
            let month = small_number(b).ok_or(DateFail::Unreadable)?;
            let day = small_number(c).ok_or(DateFail::Unreadable)?;
            return checked_date(year, month, day);
        }
        let (a, b) = (
            small_number(a).ok_or(DateFail::Unreadable)?,
            small_number(b).ok_or(DateFail::Unreadable)?,
        );
        let year = year_from(c).ok_or(DateFail::Unreadable)?;
        let (month, day) = match order {
            DateOrder::MonthFirst => (a, b),
            DateOrder::DayFirst => (b, a),
        };
        return checked_date(year, month, day).map_err(|fail| match fail {
            DateFail::NotReal { .. } if month > 12 => DateFail::NotReal {
                bad_month: Some((month, order)),
            },
            other => other,
        });
    }
    let mut words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || [',', '-', '/', '.'].contains(&c))
        .filter(|word| !word.is_empty())
        .collect();
    // `Thursday, March 14, 2024` is Excel's long date format.
    if words
        .first()
        .is_some_and(|word| WEEKDAYS.contains(&word.to_lowercase().as_str()))
    {
        words.remove(0);
    }
    let (year, month, day) = match words.as_slice() {
        [first, second, third] => {
            if let Some(month) = month_number(first) {
                // `Mar 14, 2024`
                (third, month, day_number(second))
            } else if let Some(month) = month_number(second) {
                if first.len() == 4 && all_digits(first) {
                    // `2024-Mar-14`
                    (first, month, day_number(third))
                } else {
                    // `14-Mar-2024`, `14 Mar 24`
                    (third, month, day_number(first))
                }
            } else {
                return Err(DateFail::Unreadable);
            }
        }
        _ => return Err(DateFail::Unreadable),
    };
    let day = day.ok_or(DateFail::Unreadable)?;
    let year = year_from(year).ok_or(DateFail::Unreadable)?;
    checked_date(year, month, day)
}

/// Takes a trailing `am`/`pm` (`a.m.`, `p.m.`) off; `Some(true)` for pm.
fn strip_meridiem(text: &str) -> (&str, Option<bool>) {
    for (mark, pm) in [
        ("a.m.", false),
        ("p.m.", true),
        ("a.m", false),
        ("p.m", true),
        ("am", false),
        ("pm", true),
    ] {
        if let Some(rest) = strip_suffix_ignore_case(text, mark) {
            let rest = rest.trim_end();
            // Only after the hour: `Sam`, say, is no time.
            if rest.ends_with(|c: char| c.is_ascii_digit()) {
                return (rest, Some(pm));
            }
        }
    }
    (text, None)
}

/// `14:30`, `14:30:00`, `14:30:00.000`, and with am/pm `2:30` or `2`.
fn clock_time(text: &str, pm: Option<bool>) -> Option<NaiveTime> {
    let mut parts = text.split(':');
    let hour = small_number(parts.next()?)?;
    let minute = match parts.next() {
        Some(minute) if minute.len() == 2 => small_number(minute)?,
        Some(_) => return None,
        // A bare hour is a time only with am/pm (`2 PM`).
        None if pm.is_some() => 0,
        None => return None,
    };
    let second = match parts.next() {
        // Fractions of a second come from workbook cells; they are not kept.
        Some(second) => {
            let (whole, fraction) = second.split_once('.').unwrap_or((second, "0"));
            if whole.len() != 2 || !all_digits(fraction) {
                return None;
            }
            small_number(whole)?
        }
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match (pm, hour) {
        (None, hour) => hour,
        (Some(false), 12) => 0,
        (Some(true), 1..=11) => hour + 12,
        (Some(_), 0..=12) => hour,
        // `14:30 PM` says the same thing twice; `14:30 AM` contradicts itself.
        (Some(true), 13..=23) => hour,
        (Some(_), _) => return None,
    };
    NaiveTime::from_hms_opt(hour, minute, second)
}

/// Splits a time of day off the end of a date (`3/14/2024 2:30 PM`, `2024-03-14T10:30`).
/// `Ok(None)` when there is none; `Err` when something time-like is there but unreadable.
fn split_time(text: &str) -> Result<(&str, Option<NaiveTime>), DateFail> {
    let text = text.trim();
    let (rest, pm) = strip_meridiem(text);
    let cut = rest.char_indices().rev().find(|&(index, c)| {
        c.is_whitespace()
            || ((c == 'T' || c == 't')
                && rest
                    .get(..index)
                    .is_some_and(|before| before.ends_with(|b: char| b.is_ascii_digit()))
                && rest
                    .get(index + 1..)
                    .is_some_and(|after| after.starts_with(|a: char| a.is_ascii_digit())))
    });
    let (date_part, token) = match cut {
        Some((index, c)) => (
            rest.get(..index).unwrap_or_default(),
            rest.get(index + c.len_utf8()..).unwrap_or_default(),
        ),
        None => ("", rest),
    };
    if !token.contains(':') && pm.is_none() {
        return Ok((text, None));
    }
    let time = clock_time(token, pm).ok_or(DateFail::Unreadable)?;
    let mut date_part = date_part.trim_end().trim_end_matches(',').trim_end();
    // `Mar 14, 2024 at 2:30 PM`
    if let Some(before) = strip_suffix_ignore_case(date_part, " at") {
        date_part = before.trim_end().trim_end_matches(',').trim_end();
    }
    if date_part.is_empty() {
        return Err(DateFail::Unreadable);
    }
    Ok((date_part, Some(time)))
}

fn date_message(text: &str, fail: DateFail, order: DateOrder, with_time: bool) -> String {
    let quoted = shorten(text);
    match fail {
        DateFail::Unreadable => {
            let numeric = match order {
                DateOrder::MonthFirst => "3/14/2024",
                DateOrder::DayFirst => "14/3/2024",
            };
            if with_time {
                format!(
                    "'{quoted}' is not a date: write it like 2024-03-14, {numeric} or Mar 14, 2024, \
                     with a time after it if needed, like {numeric} 2:30 PM or 2024-03-14 14:30"
                )
            } else {
                format!(
                    "'{quoted}' is not a date: write it like 2024-03-14, {numeric} or Mar 14, 2024"
                )
            }
        }
        DateFail::NotReal {
            bad_month: Some((month, DateOrder::MonthFirst)),
        } => format!(
            "'{quoted}' is not a real date: this column is read month first \
             (month/day/year), and there is no month {month}"
        ),
        DateFail::NotReal {
            bad_month: Some((month, DateOrder::DayFirst)),
        } => format!(
            "'{quoted}' is not a real date: this column is read day first \
             (day/month/year), and there is no month {month}"
        ),
        DateFail::NotReal { bad_month: None } => format!("'{quoted}' is not a real date"),
        DateFail::YearOutOfRange(year) => format!(
            "'{quoted}' is not a real date: the year {year} looks mistyped (write it like 2024)"
        ),
    }
}

fn read_date_time(
    text: &str,
    order: DateOrder,
) -> Result<(NaiveDate, Option<NaiveTime>), DateFail> {
    let (date_part, time) = split_time(text)?;
    Ok((date_only(date_part, order)?, time))
}

/// A date: ISO `2024-03-14` (also with a time part `2024-03-14 10:30:00`/`2024-03-14T10:30` whose time is then ignored with a warning unless it is 00:00), US `3/14/2024`, `3/14/24` (two-digit years: 00-69 -> 2000s, 70-99 -> 1900s), `3-14-2024`, `Mar 14, 2024`, `March 14 2024`, `14-Mar-2024`, `14 Mar 2024`, `14-Mar-24`, and day-first `14/3/2024` when `order` is DayFirst. An impossible date (`2/30/2024`, month 13 in the order asked) fails: "'2/30/2024' is not a real date" (and when the first part is over 12 while reading month-first, say the column is read month-first).
///
/// Any date [`date_time`] reads is taken, its time dropped as above. Also read: year-first
/// with `/` or `.` (`2024/03/14`), a leading weekday (`Thursday, March 14, 2024`), ordinal
/// days (`March 14th, 2024`). Years outside 1900-2199 fail as mistyped.
pub fn date(text: &str, order: DateOrder) -> ValueResult<NaiveDate> {
    let (day, time) =
        read_date_time(text, order).map_err(|fail| date_message(text, fail, order, false))?;
    match time {
        Some(time) if time != NaiveTime::MIN => {
            let quoted = shorten(text);
            let clock = if time.second() == 0 {
                time.format("%H:%M")
            } else {
                time.format("%H:%M:%S")
            };
            warned(
                day,
                format!(
                    "'{quoted}' imported as the date {day} (the time {clock} is not kept in this column)"
                ),
            )
        }
        _ => plain(day),
    }
}

/// A date with an optional time of day, for interaction dates: everything `date` takes, plus a time after it: `14:30`, `14:30:00`, `2:30 PM`, `2:30pm`, `2 PM`, ISO `T` separator. Returns the local date-time (no zone; the caller places it in a time zone).
///
/// A date alone is midnight. Also read: `a.m.`/`p.m.`, `at` before the time
/// (`Mar 14, 2024 at 2:30 PM`). Fractions of a second are dropped; a zone (`Z`, `+02:00`)
/// fails, since the time would be silently moved.
pub fn date_time(text: &str, order: DateOrder) -> ValueResult<NaiveDateTime> {
    let (day, time) =
        read_date_time(text, order).map_err(|fail| date_message(text, fail, order, true))?;
    plain(day.and_time(time.unwrap_or(NaiveTime::MIN)))
}

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

/// The loose key enumerations are matched by (SPEC: case, spaces, `_`, `-`, `&`/`and`, plural `s` ignored): lower-case, `&` read as "and", every character that is not a letter or digit is a word break, each word of 4 or more letters that ends in a single `s` (not `ss`) loses it, and words are then joined with nothing between. So `Meat & Poultry` and `meat_and_poultry` give "meatandpoultry", `Closed - Won` gives "closedwon", `Decision Makers` gives "decisionmaker", `Follow-up` gives "followup", `Beverages` gives "beverage", `Sample/Visit Offered` gives "samplevisitoffered".
pub fn enum_key(text: &str) -> String {
    let lower = text.to_lowercase().replace('&', " and ");
    let mut key = String::with_capacity(lower.len());
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        // Short words (`gas`, `bus`) are not plurals often enough to cut.
        let singular = if word.chars().count() >= 4 && word.ends_with('s') && !word.ends_with("ss")
        {
            word.strip_suffix('s').unwrap_or(word)
        } else {
            word
        };
        key.push_str(singular);
    }
    key
}

/// Whether an email address looks valid (one `@`, a non-empty local part, a dotted domain not starting or ending with a dot, no spaces).
pub fn looks_like_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(char::is_whitespace)
}

/// Whether a phone number looks like one: 7 to 20 digits, with only digits, spaces and `+-().,/#` and extensions ("ext", "x").
pub fn looks_like_phone(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    // The letters of "ext" and "x" are let through one by one: `x12`, `ext. 12`, `Ext 12`.
    let allowed = text.chars().all(|c| {
        c.is_ascii_digit() || " +-().,/#".contains(c) || "ext".contains(c.to_ascii_lowercase())
    });
    (7..=20).contains(&digits) && allowed
}

/// A cell quoted in a message, cut to 60 characters with `…`.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn at(date: NaiveDate, hour: u32, minute: u32, second: u32) -> NaiveDateTime {
        date.and_hms_opt(hour, minute, second).unwrap()
    }

    fn value<T>(result: ValueResult<T>) -> T {
        match result {
            Ok(parsed) => {
                assert_eq!(parsed.warning, None, "unexpected warning");
                parsed.value
            }
            Err(message) => panic!("unexpected error: {message}"),
        }
    }

    fn warned_value<T: std::fmt::Debug>(result: ValueResult<T>) -> (T, String) {
        match result {
            Ok(Parsed {
                value,
                warning: Some(warning),
            }) => (value, warning),
            other => panic!("expected a warning, got {other:?}"),
        }
    }

    fn error<T: std::fmt::Debug>(result: ValueResult<T>) -> String {
        match result {
            Err(message) => message,
            Ok(parsed) => panic!("expected an error, got {parsed:?}"),
        }
    }

    // --- money -------------------------------------------------------------------------

    #[test]
    fn money_reads_us_amounts() {
        for (text, expected) in [
            ("1234.5", "1234.50"),
            ("$1,234.50", "1234.50"),
            ("1,234", "1234"),
            ("USD 12", "12"),
            ("usd12", "12"),
            ("12 $", "12"),
            ("12 USD", "12"),
            ("US$ 5", "5"),
            ("$ 1,234,567.89", "1234567.89"),
            ("0", "0"),
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("12.", "12"),
            ("+12", "12"),
            ("007", "7"),
            ("1,000,000", "1000000"),
            ("12.500", "12.50"),
            ("\u{a0}$12\u{a0}", "12"),
        ] {
            assert_eq!(value(money(text, 10)), dec(expected), "{text}");
        }
    }

    #[test]
    fn money_keeps_two_decimals() {
        assert_eq!(value(money("12", 10)).to_string(), "12.00");
        assert_eq!(value(money("1234.5", 10)).to_string(), "1234.50");
    }

    #[test]
    fn money_zero_written_negative_is_zero() {
        for text in ["(0)", "(0.00)", "-0", "-$0.00", "($0)"] {
            assert_eq!(value(money(text, 10)), Decimal::ZERO, "{text}");
        }
    }

    #[test]
    fn money_negative_fails() {
        assert_eq!(
            error(money("-12", 10)),
            "Negative amount '-12': amounts must be 0 or more"
        );
        for text in [
            "(12.00)", "-$12", "$-12", "($12.00)", "$(12.00)", "−12", "-0.001", "- 12",
        ] {
            let message = error(money(text, 10));
            assert!(message.starts_with("Negative amount"), "{text}: {message}");
            assert!(message.contains(text), "{text}: {message}");
        }
    }

    #[test]
    fn money_rounds_half_away_from_zero_with_warning() {
        let (amount, warning) = warned_value(money("2.345", 10));
        assert_eq!(amount, dec("2.35"));
        assert_eq!(
            warning,
            "'2.345' imported as 2.35 (amounts keep 2 decimals)"
        );
        let (amount, warning) = warned_value(money("2.344", 10));
        assert_eq!(amount, dec("2.34"));
        assert!(
            warning.contains("2.344") && warning.contains("2.34 "),
            "{warning}"
        );
        assert_eq!(warned_value(money("2.3449999", 10)).0, dec("2.34"));
        assert_eq!(warned_value(money("0.005", 10)).0, dec("0.01"));
        assert_eq!(warned_value(money("0.004", 10)).0, dec("0"));
        assert_eq!(warned_value(money("$1,234.565", 10)).0, dec("1234.57"));
        assert_eq!(warned_value(money("0.999", 10)).0, dec("1"));
        // A float cell written by the reader.
        assert_eq!(
            warned_value(money("0.30000000000000004", 10)).0,
            dec("0.30")
        );
    }

    #[test]
    fn money_too_large_names_the_largest_amount() {
        assert_eq!(value(money("9,999,999,999.99", 10)), dec("9999999999.99"));
        assert_eq!(
            error(money("12345678901", 10)),
            "'12345678901' is more than the largest amount the CRM holds (9,999,999,999.99)"
        );
        // Rounding up past the largest amount.
        assert!(error(money("9999999999.995", 10)).contains("9,999,999,999.99"));
        assert!(error(money("12345678901234", 13)).contains("(9,999,999,999,999.99)"));
        assert_eq!(value(money("1234567890123", 13)), dec("1234567890123"));
        assert!(error(money("1", 0)).contains("(0.99)"));
        assert_eq!(value(money("0.99", 0)), dec("0.99"));
        let huge = "9".repeat(200);
        assert!(error(money(&huge, 10)).contains("largest amount"));
        // A column wider than a Decimal carries is capped, not overflowed.
        assert!(error(money(&huge, 1000)).contains("largest amount"));
        assert_eq!(
            value(money(&"9".repeat(26), 1000)),
            Decimal::from_str(&"9".repeat(26)).unwrap()
        );
    }

    #[test]
    fn money_not_an_amount_names_the_value() {
        assert_eq!(
            error(money("12,50", 10)),
            "'12,50' is not an amount in US format (like 1,234.50)"
        );
        for text in [
            "1.234,50",
            "1,23",
            "12,3456",
            ",123",
            "1,,234",
            "abc",
            "$",
            "()",
            "--5",
            "1e400",
            "1E5",
            "12.5.1",
            "$$12",
            "12 $ USD",
            "€12",
            "12€",
            "1 234",
            "twelve",
            ".",
            "-",
            "(12",
            "12)",
            "(-12)",
            "-(12)",
            "0x1F",
            "NaN",
            "inf",
            "１２",
            "12.3a",
            "1,234.5,6",
        ] {
            let message = error(money(text, 10));
            assert!(
                message.contains("is not an amount in US format") && message.contains(text),
                "{text}: {message}"
            );
        }
    }

    // --- whole numbers -----------------------------------------------------------------

    #[test]
    fn whole_numbers() {
        for (text, expected) in [
            ("12", 12),
            ("1,000", 1000),
            ("12.0", 12),
            ("12.00", 12),
            ("0", 0),
            ("-0", 0),
            ("+5", 5),
            ("0012", 12),
            ("2,147,483,647", i32::MAX),
        ] {
            assert_eq!(value(whole_number(text)), expected, "{text}");
        }
    }

    #[test]
    fn whole_number_failures() {
        assert_eq!(
            error(whole_number("12.5")),
            "'12.5' is not a whole number (like 12 or 1,000)"
        );
        assert_eq!(
            error(whole_number("-5")),
            "Negative number '-5': it must be 0 or more"
        );
        assert!(error(whole_number("2147483648")).contains("largest whole number"));
        assert!(error(whole_number(&"9".repeat(100))).contains("largest whole number"));
        for text in ["1,00", "12 cases", "$12", "1e3", "--5", "abc", ".", "1.2.3"] {
            assert!(
                error(whole_number(text)).contains("is not a whole number"),
                "{text}"
            );
        }
    }

    // --- shelf life --------------------------------------------------------------------

    #[test]
    fn shelf_life_plain_forms() {
        for (text, expected) in [
            ("90", 90),
            ("90 days", 90),
            ("90 Days", 90),
            ("90d", 90),
            ("1 day", 1),
            ("3 weeks", 21),
            ("3 wk", 21),
            ("3w", 21),
            ("1 week", 7),
            ("1 year", 365),
            ("1 yr", 365),
            ("1y", 365),
            ("2 YEARS", 730),
            ("1,000 days", 1000),
            ("0", 0),
            ("1.5 weeks 0.5 days", 11),
        ] {
            assert_eq!(value(shelf_life_days(text)), expected, "{text}");
        }
    }

    #[test]
    fn shelf_life_months_warn() {
        let (days, warning) = warned_value(shelf_life_days("6 months"));
        assert_eq!(days, 180);
        assert_eq!(
            warning,
            "'6 months' imported as 180 days (a month counts 30 days)"
        );
        assert_eq!(warned_value(shelf_life_days("6 mo")).0, 180);
        assert_eq!(warned_value(shelf_life_days("1 Month")).0, 30);
        assert_eq!(warned_value(shelf_life_days("1 year 6 months")).0, 545);
        let (days, warning) = warned_value(shelf_life_days("0.7 months"));
        assert_eq!(days, 21);
        assert!(warning.contains("30 days"), "{warning}");
    }

    #[test]
    fn whole_years_written_as_months_count_as_years() {
        assert_eq!(value(shelf_life_days("12 months")), 365);
        assert_eq!(value(shelf_life_days("24 mos")), 730);
        assert_eq!(
            value(shelf_life_days("12 Months")),
            value(shelf_life_days("1 year"))
        );
        // Not whole years: still 30 days a month, warned.
        assert_eq!(warned_value(shelf_life_days("18 months")).0, 540);
    }

    #[test]
    fn shelf_life_rounds_with_warning() {
        let (days, warning) = warned_value(shelf_life_days("1.5 years"));
        assert_eq!(days, 548);
        assert_eq!(
            warning,
            "'1.5 years' imported as 548 days (rounded to whole days)"
        );
        assert_eq!(warned_value(shelf_life_days("90.5")).0, 91);
        assert_eq!(warned_value(shelf_life_days("90.4 days")).0, 90);
    }

    #[test]
    fn shelf_life_failures() {
        let message = error(shelf_life_days("forever"));
        assert_eq!(
            message,
            "'forever' is not a shelf life: write days, weeks, months or years, \
             like 90, 90 days, 3 weeks, 6 months or 1 year"
        );
        assert_eq!(
            error(shelf_life_days("-5")),
            "Negative shelf life '-5': it must be 0 days or more"
        );
        assert!(error(shelf_life_days("-3 weeks")).starts_with("Negative shelf life"));
        for text in [
            "days",
            "90 fortnights",
            "1 year 6",
            "6-12 months",
            "90 days!",
            "1,00 days",
            "d90",
            "--5",
            "1e400",
            "%",
            "3 minutes",
        ] {
            assert!(
                error(shelf_life_days(text)).contains("is not a shelf life"),
                "{text}"
            );
        }
        assert!(error(shelf_life_days("99999999999 years")).contains("more days than the CRM"));
        assert!(error(shelf_life_days(&"9".repeat(80))).contains("more days than the CRM"));
    }

    // --- durations ---------------------------------------------------------------------

    #[test]
    fn duration_forms() {
        for (text, expected) in [
            ("45", 45),
            ("45 min", 45),
            ("45 minutes", 45),
            ("45 Minutes", 45),
            ("45m", 45),
            ("45 mins", 45),
            ("1h 30m", 90),
            ("1h30m", 90),
            ("1h 30", 90),
            ("1 hr 30 min", 90),
            ("1 hour and 30 minutes", 90),
            ("1 hour, 30 minutes", 90),
            ("1.5 hours", 90),
            ("2 hrs", 120),
            ("2 HOURS", 120),
            ("1:30", 90),
            ("0:45", 45),
            ("01:30", 90),
            ("1:30:00", 90),
            ("10:00:00", 600),
            ("0:45:00.000", 45),
            ("120 sec", 2),
            ("1 day", 1440),
            ("PT1H30M", 90),
            ("PT45M", 45),
            ("PT1H30M0S", 90),
            ("P0DT1H30M0S", 90),
            ("pt2h", 120),
            ("0", 0),
            ("-0", 0),
        ] {
            assert_eq!(value(duration_minutes(text)), expected, "{text}");
        }
    }

    #[test]
    fn duration_rounds_with_warning() {
        let (minutes, warning) = warned_value(duration_minutes("1:30:40"));
        assert_eq!(minutes, 91);
        assert_eq!(
            warning,
            "'1:30:40' imported as 91 minutes (rounded to whole minutes)"
        );
        assert_eq!(warned_value(duration_minutes("1:30:30")).0, 91);
        assert_eq!(warned_value(duration_minutes("1:30:29")).0, 90);
        assert_eq!(warned_value(duration_minutes("90 sec")).0, 2);
        assert_eq!(warned_value(duration_minutes("45.5")).0, 46);
        assert_eq!(warned_value(duration_minutes("0.33 hours")).0, 20);
    }

    #[test]
    fn duration_failures() {
        assert_eq!(
            error(duration_minutes("-45")),
            "Negative duration '-45': it must be 0 minutes or more"
        );
        assert!(error(duration_minutes("-1:30")).starts_with("Negative duration"));
        assert!(error(duration_minutes("-PT1H")).starts_with("Negative duration"));
        // `1:90` is not guessed at: after a ':' come minutes 00 to 59.
        let message = error(duration_minutes("1:90"));
        assert!(message.starts_with("'1:90' is not a duration"), "{message}");
        assert!(message.contains("59"), "{message}");
        assert!(error(duration_minutes("1:30:75")).contains("59"));
        assert_eq!(
            error(duration_minutes("a while")),
            "'a while' is not a duration: write minutes or hours, \
             like 45, 45 min, 1h 30m, 1.5 hours or 1:30"
        );
        for text in [
            "1:",
            ":30",
            "1:3:0:0",
            "1:300",
            "1::30",
            "1:30 pm",
            "45 min 30",
            "30 10",
            "minutes",
            "45 1h",
            "1h 30 20",
            "45 parsecs",
            "P",
            "PT",
            "P1Y",
            "PTXM",
            "1h-30m",
            "1 3/4 hours",
            "--5",
            "1e400",
            "1,5 hours",
        ] {
            assert!(
                error(duration_minutes(text)).contains("is not a duration"),
                "{text}"
            );
        }
        assert!(error(duration_minutes("99999999999 hours")).contains("more minutes"));
        assert!(error(duration_minutes("99999999999:00")).contains("more minutes"));
        assert!(
            error(duration_minutes(&format!("{}:00", "9".repeat(50)))).contains("more minutes")
        );
    }

    // --- probability -------------------------------------------------------------------

    #[test]
    fn probability_forms() {
        for (text, expected) in [
            ("75%", 75),
            ("75", 75),
            ("75 %", 75),
            ("75 percent", 75),
            ("100%", 100),
            ("100", 100),
            ("0", 0),
            ("0%", 0),
            ("1", 1),
            ("1.0", 1),
            ("0.5%", 1),
            ("-0", 0),
        ] {
            let parsed = probability(text).unwrap();
            assert_eq!(parsed.value, expected, "{text}");
            if !text.contains('.') {
                assert_eq!(parsed.warning, None, "{text}");
            }
        }
    }

    #[test]
    fn probability_fractions_warn() {
        let (percent, warning) = warned_value(probability("0.75"));
        assert_eq!(percent, 75);
        assert_eq!(warning, "'0.75' read as 75%");
        let (percent, warning) = warned_value(probability("0.5"));
        assert_eq!(percent, 50);
        assert_eq!(warning, "'0.5' read as 50%");
        let (percent, warning) = warned_value(probability("0.755"));
        assert_eq!(percent, 76);
        assert!(warning.contains("rounded"), "{warning}");
        // With `%` it is a percentage, not a fraction.
        assert_eq!(warned_value(probability("0.75%")).0, 1);
    }

    #[test]
    fn probability_rounds_with_warning() {
        let (percent, warning) = warned_value(probability("75.5%"));
        assert_eq!(percent, 76);
        assert_eq!(
            warning,
            "'75.5%' imported as 76% (rounded to a whole percent)"
        );
        assert_eq!(warned_value(probability("33.3")).0, 33);
        assert_eq!(warned_value(probability("99.5")).0, 100);
    }

    #[test]
    fn probability_out_of_range() {
        assert_eq!(
            error(probability("120")),
            "Probability '120' must be between 0 and 100"
        );
        for text in ["101", "100.4", "-5", "-0.5", "-75%", &"9".repeat(100)] {
            assert!(
                error(probability(text)).contains("must be between 0 and 100"),
                "{text}"
            );
        }
        for text in ["high", "%", "75%%", "1e400", "--5", "50-60", "½"] {
            assert!(
                error(probability(text)).contains("is not a probability"),
                "{text}"
            );
        }
    }

    // --- yes/no ------------------------------------------------------------------------

    #[test]
    fn yes_no_words() {
        for text in [
            "yes", "YES", "Yes", "y", "Y", "true", "TRUE", "x", "X", "1", "on", "On", "checked",
            "Checked", "✓", "✔", "☑",
        ] {
            assert_eq!(yes_no(text), Some(true), "{text}");
        }
        for text in [
            "no",
            "NO",
            "n",
            "N",
            "false",
            "FALSE",
            "0",
            "off",
            "OFF",
            "unchecked",
            "☐",
        ] {
            assert_eq!(yes_no(text), Some(false), "{text}");
        }
        for text in ["maybe", "2", "yes!", "nope", "-", "t", "yess", "1.0"] {
            assert_eq!(yes_no(text), None, "{text}");
        }
    }

    // --- dates -------------------------------------------------------------------------

    #[test]
    fn dates_in_every_written_form() {
        let pi_day = ymd(2024, 3, 14);
        for text in [
            "2024-03-14",
            "2024-3-14",
            "2024/03/14",
            "2024.03.14",
            "3/14/2024",
            "03/14/2024",
            "3/14/24",
            "3-14-2024",
            "3.14.2024",
            "Mar 14, 2024",
            "Mar. 14, 2024",
            "March 14 2024",
            "march 14, 2024",
            "MARCH 14 2024",
            "14-Mar-2024",
            "14 Mar 2024",
            "14-Mar-24",
            "14 March, 2024",
            "March 14th, 2024",
            "Thursday, March 14, 2024",
            "Thu 14 Mar 2024",
            "2024-Mar-14",
            "2024-03-14 00:00:00",
            "2024-03-14T00:00",
        ] {
            assert_eq!(value(date(text, DateOrder::MonthFirst)), pi_day, "{text}");
        }
        assert_eq!(value(date("14/3/2024", DateOrder::DayFirst)), pi_day);
        assert_eq!(value(date("14.03.2024", DateOrder::DayFirst)), pi_day);
        assert_eq!(value(date("14/3/24", DateOrder::DayFirst)), pi_day);
        // Year-first and month names are never affected by the order.
        assert_eq!(value(date("2024-03-14", DateOrder::DayFirst)), pi_day);
        assert_eq!(value(date("Mar 14, 2024", DateOrder::DayFirst)), pi_day);
        assert_eq!(
            value(date("Sept 1, 2024", DateOrder::MonthFirst)),
            ymd(2024, 9, 1)
        );
    }

    #[test]
    fn dates_ambiguous_follow_the_order() {
        assert_eq!(
            value(date("3/4/2024", DateOrder::MonthFirst)),
            ymd(2024, 3, 4)
        );
        assert_eq!(
            value(date("3/4/2024", DateOrder::DayFirst)),
            ymd(2024, 4, 3)
        );
        assert_eq!(
            value(date("12/13/2024", DateOrder::MonthFirst)),
            ymd(2024, 12, 13)
        );
        assert_eq!(
            value(date("13/12/2024", DateOrder::DayFirst)),
            ymd(2024, 12, 13)
        );
    }

    #[test]
    fn dates_two_digit_years() {
        let order = DateOrder::MonthFirst;
        assert_eq!(value(date("1/2/00", order)), ymd(2000, 1, 2));
        assert_eq!(value(date("1/2/69", order)), ymd(2069, 1, 2));
        assert_eq!(value(date("1/2/70", order)), ymd(1970, 1, 2));
        assert_eq!(value(date("1/2/99", order)), ymd(1999, 1, 2));
        assert_eq!(value(date("5-Jan-85", order)), ymd(1985, 1, 5));
    }

    #[test]
    fn dates_leap_days() {
        let order = DateOrder::MonthFirst;
        assert_eq!(value(date("2/29/2024", order)), ymd(2024, 2, 29));
        assert_eq!(value(date("2000-02-29", order)), ymd(2000, 2, 29));
        assert_eq!(
            error(date("2/29/2023", order)),
            "'2/29/2023' is not a real date"
        );
        assert!(error(date("1900-02-29", order)).contains("not a real date"));
        assert!(error(date("Feb 29, 2023", order)).contains("not a real date"));
    }

    #[test]
    fn dates_impossible() {
        let order = DateOrder::MonthFirst;
        assert_eq!(
            error(date("2/30/2024", order)),
            "'2/30/2024' is not a real date"
        );
        assert_eq!(
            error(date("13/12/2024", order)),
            "'13/12/2024' is not a real date: this column is read month first \
             (month/day/year), and there is no month 13"
        );
        assert_eq!(
            error(date("12/13/2024", DateOrder::DayFirst)),
            "'12/13/2024' is not a real date: this column is read day first \
             (day/month/year), and there is no month 13"
        );
        for text in [
            "2024-13-01",
            "2024-02-30",
            "4/31/2024",
            "0/1/2024",
            "1/0/2024",
            "Apr 31, 2024",
            "32 Jan 2024",
        ] {
            assert!(
                error(date(text, order)).contains("not a real date"),
                "{text}"
            );
        }
        assert_eq!(
            error(date("3/14/0224", order)),
            "'3/14/0224' is not a real date: the year 224 looks mistyped (write it like 2024)"
        );
    }

    #[test]
    fn dates_unreadable() {
        let message = error(date("next week", DateOrder::MonthFirst));
        assert_eq!(
            message,
            "'next week' is not a date: write it like 2024-03-14, 3/14/2024 or Mar 14, 2024"
        );
        assert!(error(date("soon", DateOrder::DayFirst)).contains("14/3/2024"));
        for text in [
            "3/14",
            "3/14/202",
            "3/14-2024",
            "2024",
            "45365",
            "March 2024",
            "14 Smarch 2024",
            "3//14/2024",
            "1/2/3/4",
            "10:30:00",
            "2024-03-14T10:30Z",
            "2024-03-14 10:30 +02:00",
            "2024-03-14T25:00",
            "3/14/2024 2:30 XM",
        ] {
            assert!(
                error(date(text, DateOrder::MonthFirst)).contains("is not a date"),
                "{text}"
            );
        }
    }

    #[test]
    fn date_drops_a_time_with_warning() {
        let (day, warning) = warned_value(date("2024-03-14 10:30:00", DateOrder::MonthFirst));
        assert_eq!(day, ymd(2024, 3, 14));
        assert_eq!(
            warning,
            "'2024-03-14 10:30:00' imported as the date 2024-03-14 (the time 10:30 is not kept in this column)"
        );
        let (day, warning) = warned_value(date("2024-03-14T10:30", DateOrder::MonthFirst));
        assert_eq!(day, ymd(2024, 3, 14));
        assert!(warning.contains("10:30"));
        let (_, warning) = warned_value(date("3/14/2024 2:30:15 PM", DateOrder::MonthFirst));
        assert!(warning.contains("14:30:15"), "{warning}");
    }

    #[test]
    fn date_times() {
        let day = ymd(2024, 3, 14);
        let order = DateOrder::MonthFirst;
        for (text, expected) in [
            ("2024-03-14", at(day, 0, 0, 0)),
            ("2024-03-14 14:30", at(day, 14, 30, 0)),
            ("2024-03-14 14:30:00", at(day, 14, 30, 0)),
            ("2024-03-14T14:30", at(day, 14, 30, 0)),
            ("2024-03-14T14:30:05", at(day, 14, 30, 5)),
            ("2024-03-14T14:30:05.250", at(day, 14, 30, 5)),
            ("3/14/2024 2:30 PM", at(day, 14, 30, 0)),
            ("3/14/2024 2:30pm", at(day, 14, 30, 0)),
            ("3/14/2024 2:30 p.m.", at(day, 14, 30, 0)),
            ("3/14/2024 2 PM", at(day, 14, 0, 0)),
            ("3/14/2024 2pm", at(day, 14, 0, 0)),
            ("3/14/2024 12:15 AM", at(day, 0, 15, 0)),
            ("3/14/2024 12:15 PM", at(day, 12, 15, 0)),
            ("3/14/2024 9:05 am", at(day, 9, 5, 0)),
            ("3/14/2024 14:30 PM", at(day, 14, 30, 0)),
            ("3/14/24 14:30", at(day, 14, 30, 0)),
            ("Mar 14, 2024 2:30 PM", at(day, 14, 30, 0)),
            ("Mar 14, 2024, 2:30 PM", at(day, 14, 30, 0)),
            ("Mar 14, 2024 at 2:30 PM", at(day, 14, 30, 0)),
            ("14-Mar-2024 09:00", at(day, 9, 0, 0)),
            ("3/14/2024 0:00", at(day, 0, 0, 0)),
        ] {
            assert_eq!(value(date_time(text, order)), expected, "{text}");
        }
        assert_eq!(
            value(date_time("14/3/2024 14:30", DateOrder::DayFirst)),
            at(day, 14, 30, 0)
        );
    }

    #[test]
    fn date_time_failures() {
        let order = DateOrder::MonthFirst;
        for text in [
            "3/14/2024 25:00",
            "3/14/2024 14:60",
            "3/14/2024 13:00 AM",
            "3/14/2024 2:3",
            "2:30 PM",
            "at 2:30 PM",
            "3/14/2024 2:30 PM PM",
            "yesterday 14:30",
        ] {
            let message = error(date_time(text, order));
            assert!(message.contains("is not a date"), "{text}: {message}");
            assert!(message.contains("2:30 PM"), "{text}: {message}");
        }
        assert_eq!(
            error(date_time("2/30/2024 10:00", order)),
            "'2/30/2024 10:00' is not a real date"
        );
    }

    #[test]
    fn numeric_date_parts_for_the_column_guess() {
        assert_eq!(numeric_date_parts("3/4/2024"), Some((3, 4)));
        assert_eq!(numeric_date_parts("3/4/24"), Some((3, 4)));
        assert_eq!(numeric_date_parts("13-12-2024"), Some((13, 12)));
        assert_eq!(numeric_date_parts("14.3.2024"), Some((14, 3)));
        assert_eq!(numeric_date_parts("12/13/2024"), Some((12, 13)));
        assert_eq!(numeric_date_parts("3/4/2024 10:30"), Some((3, 4)));
        for text in [
            "2024-03-14",
            "Mar 14, 2024",
            "14-Mar-2024",
            "3/4",
            "3/4/202",
            "2/30/2024",
            "45/3/2024",
            "3/4-2024",
            "abc",
            "",
            "100/1/2024",
        ] {
            assert_eq!(numeric_date_parts(text), None, "{text}");
        }
    }

    // --- text --------------------------------------------------------------------------

    #[test]
    fn enum_keys() {
        for (text, expected) in [
            ("Meat & Poultry", "meatandpoultry"),
            ("meat_and_poultry", "meatandpoultry"),
            ("Meat&Poultry", "meatandpoultry"),
            ("Closed - Won", "closedwon"),
            ("Closed Won", "closedwon"),
            ("closed_won", "closedwon"),
            ("Decision Makers", "decisionmaker"),
            ("decision_maker", "decisionmaker"),
            ("Follow-up", "followup"),
            ("follow_up", "followup"),
            ("Beverages", "beverage"),
            ("beverages", "beverage"),
            ("Sample/Visit Offered", "samplevisitoffered"),
            ("Spices & Seasonings", "spiceandseasoning"),
            ("spices_seasonings", "spiceseasoning"),
            ("Dry Goods", "drygood"),
            ("  New   Lead ", "newlead"),
            ("Glass", "glass"),
            ("Gas", "gas"),
            ("Bus", "bus"),
            ("", ""),
            ("&", "and"),
            ("Café Supplies", "cafésupplie"),
        ] {
            assert_eq!(enum_key(text), expected, "{text}");
        }
    }

    #[test]
    fn emails() {
        for text in ["john@company.com", "a.b+c@mail.example.org", "x@y.z"] {
            assert!(looks_like_email(text), "{text}");
        }
        for text in [
            "john@company",
            "@company.com",
            "john@@company.com",
            "john@company.com@x.com",
            "john@.company.com",
            "john@company.com.",
            "john doe@company.com",
            "john.company.com",
            "",
        ] {
            assert!(!looks_like_email(text), "{text}");
        }
    }

    #[test]
    fn phones() {
        for text in [
            "(312) 555-0100",
            "312-555-0100",
            "+1 312 555 0100",
            "312.555.0100",
            "312-555-0100 ext 12",
            "312-555-0100 x12",
            "555-0100",
            "312/555-0100 #2",
        ] {
            assert!(looks_like_phone(text), "{text}");
        }
        for text in [
            "555-010",
            "call me",
            "312-555-0100 ask for Bob",
            "123456789012345678901",
            "",
        ] {
            assert!(!looks_like_phone(text), "{text}");
        }
    }

    #[test]
    fn shorten_cuts_at_sixty_characters() {
        assert_eq!(shorten("short"), "short");
        let sixty = "é".repeat(60);
        assert_eq!(shorten(&sixty), sixty);
        let long = "é".repeat(61);
        assert_eq!(shorten(&long), format!("{}…", "é".repeat(60)));
        let message = error(money(&"x".repeat(500), 10));
        assert!(
            message.contains(&format!("'{}…'", "x".repeat(60))),
            "{message}"
        );
    }

    // --- no input panics ---------------------------------------------------------------

    fn exercise(text: &str) {
        let _ = money(text, 10);
        let _ = money(text, 0);
        let _ = money(text, u32::MAX);
        let _ = whole_number(text);
        let _ = shelf_life_days(text);
        let _ = duration_minutes(text);
        let _ = probability(text);
        let _ = yes_no(text);
        let _ = numeric_date_parts(text);
        let _ = date(text, DateOrder::MonthFirst);
        let _ = date(text, DateOrder::DayFirst);
        let _ = date_time(text, DateOrder::MonthFirst);
        let _ = date_time(text, DateOrder::DayFirst);
        let _ = enum_key(text);
        let _ = looks_like_email(text);
        let _ = looks_like_phone(text);
        let _ = shorten(text);
    }

    #[test]
    fn nasty_strings_do_not_panic() {
        let nine_hundred = "9".repeat(900);
        let long_fraction = format!("0.{}", "5".repeat(400));
        let nasty = [
            "",
            " ",
            "$",
            "()",
            "(",
            ")",
            "--5",
            "-",
            "+",
            "−",
            "1e400",
            "-1e400",
            "1E-400",
            "NaN",
            "inf",
            "-inf",
            "0x10",
            ".",
            ",",
            ":",
            "::",
            "%",
            "%%",
            "1:",
            ":1",
            "P",
            "PT",
            "T",
            "t",
            "am",
            "pm",
            "a.m.",
            " PM",
            "12 PM",
            "T12",
            "2024-03-14T",
            "2024-03-14 ",
            "/",
            "//",
            "1//",
            "-1-1-1",
            "1.2.3.4",
            "$(",
            "$()",
            "(-)",
            "(-$)",
            "US$",
            "USD",
            "usd-",
            "ǅ",
            "ß",
            "İ",
            "ﬁ",
            "Σ",
            "😀",
            "😀s",
            "1😀",
            "😀1",
            "\u{0}",
            "\u{200b}",
            "\u{feff}12",
            "12\u{301}",
            "١٢٣",
            "１２",
            "½",
            "²",
            "Ⅻ",
            "¹/₂",
            "e\u{301}s",
            "2024-02-30T25:61:61.999999999Z",
            "99999-99-99",
            "9/9/9999999999",
            "99999999999999999999:00",
            "0:59:59.9999999999999999999",
            "PT99999999999999999H",
            "P9999999999999999999W",
            "PT1.5.5H",
            "999999999999999999 years",
            "1,999,999,999.999",
            "4294967296",
            "-2147483648",
            "2147483647.5",
            "0.00000000000000000000000000001",
            "(0)",
            "-0",
            "-0.0%",
            "100.000000000000000000001",
            "Mar 99999999999, 2024",
            "99999999999 Mar 2024",
            "Mar 14, 99999999999",
            "3/14/2024 99999999999:00",
            "3/14/2024 2:30 PM at",
            "at",
            " at 2 PM",
            "Thursday",
            "Thursday,",
            "1h 1h 1h 1h",
            "and",
            "and 5",
            "5 and",
            "1 hour and",
            "x",
            "✓✓",
            "&&&&",
            "s",
            "ss",
            "sss",
            "ssss",
            "@",
            "@.",
            "a@.",
            "a@b.",
            ".@.",
            "ext",
            "x1234567",
            "(((((((((((",
        ];
        for text in nasty {
            exercise(text);
        }
        exercise(&nine_hundred);
        exercise(&long_fraction);
        exercise(&format!("${nine_hundred}"));
        exercise(&format!("{nine_hundred} days"));
        exercise(&format!("{nine_hundred}%"));
        exercise(&format!("1/1/{nine_hundred}"));
        exercise(&format!("{nine_hundred}:00:00"));
        exercise(&format!("PT{nine_hundred}M"));
        exercise(&"1,000".repeat(200));
        exercise(&"é".repeat(1000));
    }

    #[test]
    fn random_strings_do_not_panic() {
        // A fixed-seed generator over the characters these rules care about, so that
        // every run tries the same 20,000 strings.
        const ALPHABET: &[char] = &[
            '0', '1', '2', '5', '9', '.', ',', '-', '+', '$', '(', ')', '%', ':', '/', ' ', 'T',
            'P', 'H', 'M', 'S', 'a', 'm', 'p', 'd', 'h', 'r', 's', 'w', 'y', 'o', 'n', 'e', 'x',
            'U', 'D', '@', '&', '_', '−', 'é', '😀', '\u{a0}', '\t', '1', '3', '0',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let length = (next() % 16) as usize;
            let text: String = (0..length)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            exercise(&text);
        }
    }
}
