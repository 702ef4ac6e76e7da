//! Canonical phones to and from a provider's wire format.
use crate::api::{CallProviderSpec, PhoneFormat};
use crate::contacts::{Phone, PhoneError};

/// How one provider account writes phone numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFormat {
    pub format: PhoneFormat,
    /// The region national-format numbers belong to.
    pub region: Option<String>,
}

/// A desired phone that this account cannot carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outside region {region}: this account writes national numbers without a country code")]
pub struct WireRefusal {
    pub region: String,
}

impl WireFormat {
    /// The account's format, from its CallProvider spec.
    pub fn of(spec: &CallProviderSpec) -> Self {
        match (&spec.longlonglong, &spec.callbot, &spec.nxlink) {
            (Some(a), _, _) => Self {
                format: a.phone_format,
                region: Some(a.region.clone()),
            },
            (_, Some(a), _) => Self {
                format: a.phone_format,
                region: None,
            },
            (_, _, Some(a)) => Self {
                format: a.phone_format,
                region: None,
            },
            _ => Self {
                format: PhoneFormat::InternationalDigits,
                region: None,
            },
        }
    }

    /// The phone as this account writes it, or why it cannot: a national-format account
    /// reads every number in one region, so a number of another country would come back as a
    /// different number.
    pub fn encode(&self, phone: Phone) -> Result<String, WireRefusal> {
        let wire = phone.to_wire(self.format);
        if self.format == PhoneFormat::National && self.decode(&wire).ok() != Some(phone) {
            return Err(WireRefusal {
                region: self.region.clone().unwrap_or_default(),
            });
        }
        Ok(wire)
    }

    /// A phone the provider wrote.
    pub fn decode(&self, wire: &str) -> Result<Phone, PhoneError> {
        Phone::from_wire(wire, self.format, self.region.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn national_cn() -> WireFormat {
        WireFormat {
            format: PhoneFormat::National,
            region: Some("CN".into()),
        }
    }

    #[test]
    fn national_round_trips_within_the_region_only() {
        let cn = Phone::parse("+8613012121211", None).expect("valid");
        assert_eq!(national_cn().encode(cn).as_deref(), Ok("13012121211"));
        assert_eq!(national_cn().decode("13012121211"), Ok(cn));
        let hk = Phone::parse("+85291234567", None).expect("valid");
        assert!(national_cn().encode(hk).is_err());
    }

    #[test]
    fn international_digits_carry_any_country() {
        let wire = WireFormat {
            format: PhoneFormat::InternationalDigits,
            region: None,
        };
        let hk = Phone::parse("+85291234567", None).expect("valid");
        assert_eq!(wire.encode(hk).as_deref(), Ok("85291234567"));
        assert_eq!(wire.decode("85291234567"), Ok(hk));
    }
}
