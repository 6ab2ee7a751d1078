/*
 * currency.c — the ISO 4217 table (see currency.h).
 *
 * Contents: every active ISO 4217 currency and fund code that has a defined
 * number of minor-unit digits. Deliberately left out:
 *   - codes whose minor unit is "N.A." in ISO 4217 (XAU, XAG, XPD, XPT, XBA,
 *     XBB, XBC, XBD, XDR, XSU, XUA) and the testing/no-currency codes XTS, XXX:
 *     an amount in them cannot be converted to integer minor units;
 *   - withdrawn codes and codes replaced during a transition: ANG (replaced
 *     by XCG, which kept numeric 532), HRK (euro since 2023), SLL (replaced by
 *     SLE), ZWL (replaced by ZWG), and older ones (VEF, MRO, STD, BYR, ...).
 * Names are the usual English names; symbols are as commonly printed, or the
 * code itself where no symbol is usual (fund codes).
 *
 * The table must stay sorted by code (strictly ascending) for currency_find's
 * binary search; the unit tests check this, and that codes and numeric codes
 * are unique.
 */
#include "core/currency.h"

#include <string.h>

static const struct currency table[] = {
    {"AED", 784, "UAE Dirham", "د.إ", 2},
    {"AFN", 971, "Afghan Afghani", "؋", 2},
    {"ALL", 8, "Albanian Lek", "L", 2},
    {"AMD", 51, "Armenian Dram", "֏", 2},
    {"AOA", 973, "Angolan Kwanza", "Kz", 2},
    {"ARS", 32, "Argentine Peso", "$", 2},
    {"AUD", 36, "Australian Dollar", "A$", 2},
    {"AWG", 533, "Aruban Florin", "ƒ", 2},
    {"AZN", 944, "Azerbaijani Manat", "₼", 2},
    {"BAM", 977, "Bosnia and Herzegovina Convertible Mark", "KM", 2},
    {"BBD", 52, "Barbados Dollar", "Bds$", 2},
    {"BDT", 50, "Bangladeshi Taka", "৳", 2},
    {"BGN", 975, "Bulgarian Lev", "лв", 2},
    {"BHD", 48, "Bahraini Dinar", "BD", 3},
    {"BIF", 108, "Burundian Franc", "FBu", 0},
    {"BMD", 60, "Bermudian Dollar", "$", 2},
    {"BND", 96, "Brunei Dollar", "B$", 2},
    {"BOB", 68, "Bolivian Boliviano", "Bs", 2},
    {"BOV", 984, "Bolivian Mvdol", "BOV", 2},
    {"BRL", 986, "Brazilian Real", "R$", 2},
    {"BSD", 44, "Bahamian Dollar", "B$", 2},
    {"BTN", 64, "Bhutanese Ngultrum", "Nu.", 2},
    {"BWP", 72, "Botswana Pula", "P", 2},
    {"BYN", 933, "Belarusian Ruble", "Br", 2},
    {"BZD", 84, "Belize Dollar", "BZ$", 2},
    {"CAD", 124, "Canadian Dollar", "CA$", 2},
    {"CDF", 976, "Congolese Franc", "FC", 2},
    {"CHE", 947, "WIR Euro", "CHE", 2},
    {"CHF", 756, "Swiss Franc", "CHF", 2},
    {"CHW", 948, "WIR Franc", "CHW", 2},
    {"CLF", 990, "Chilean Unidad de Fomento", "UF", 4},
    {"CLP", 152, "Chilean Peso", "$", 0},
    {"CNY", 156, "Chinese Yuan Renminbi", "¥", 2},
    {"COP", 170, "Colombian Peso", "$", 2},
    {"COU", 970, "Colombian Unidad de Valor Real", "COU", 2},
    {"CRC", 188, "Costa Rican Colón", "₡", 2},
    {"CUC", 931, "Cuban Convertible Peso", "CUC$", 2},
    {"CUP", 192, "Cuban Peso", "₱", 2},
    {"CVE", 132, "Cape Verdean Escudo", "Esc", 2},
    {"CZK", 203, "Czech Koruna", "Kč", 2},
    {"DJF", 262, "Djiboutian Franc", "Fdj", 0},
    {"DKK", 208, "Danish Krone", "kr", 2},
    {"DOP", 214, "Dominican Peso", "RD$", 2},
    {"DZD", 12, "Algerian Dinar", "DA", 2},
    {"EGP", 818, "Egyptian Pound", "E£", 2},
    {"ERN", 232, "Eritrean Nakfa", "Nfk", 2},
    {"ETB", 230, "Ethiopian Birr", "Br", 2},
    {"EUR", 978, "Euro", "€", 2},
    {"FJD", 242, "Fiji Dollar", "FJ$", 2},
    {"FKP", 238, "Falkland Islands Pound", "£", 2},
    {"GBP", 826, "Pound Sterling", "£", 2},
    {"GEL", 981, "Georgian Lari", "₾", 2},
    {"GHS", 936, "Ghanaian Cedi", "GH₵", 2},
    {"GIP", 292, "Gibraltar Pound", "£", 2},
    {"GMD", 270, "Gambian Dalasi", "D", 2},
    {"GNF", 324, "Guinean Franc", "FG", 0},
    {"GTQ", 320, "Guatemalan Quetzal", "Q", 2},
    {"GYD", 328, "Guyanese Dollar", "G$", 2},
    {"HKD", 344, "Hong Kong Dollar", "HK$", 2},
    {"HNL", 340, "Honduran Lempira", "L", 2},
    {"HTG", 332, "Haitian Gourde", "G", 2},
    {"HUF", 348, "Hungarian Forint", "Ft", 2},
    {"IDR", 360, "Indonesian Rupiah", "Rp", 2},
    {"ILS", 376, "Israeli New Shekel", "₪", 2},
    {"INR", 356, "Indian Rupee", "₹", 2},
    {"IQD", 368, "Iraqi Dinar", "ع.د", 3},
    {"IRR", 364, "Iranian Rial", "﷼", 2},
    {"ISK", 352, "Icelandic Króna", "kr", 0},
    {"JMD", 388, "Jamaican Dollar", "J$", 2},
    {"JOD", 400, "Jordanian Dinar", "JD", 3},
    {"JPY", 392, "Japanese Yen", "¥", 0},
    {"KES", 404, "Kenyan Shilling", "KSh", 2},
    {"KGS", 417, "Kyrgyzstani Som", "сом", 2},
    {"KHR", 116, "Cambodian Riel", "៛", 2},
    {"KMF", 174, "Comorian Franc", "CF", 0},
    {"KPW", 408, "North Korean Won", "₩", 2},
    {"KRW", 410, "South Korean Won", "₩", 0},
    {"KWD", 414, "Kuwaiti Dinar", "KD", 3},
    {"KYD", 136, "Cayman Islands Dollar", "CI$", 2},
    {"KZT", 398, "Kazakhstani Tenge", "₸", 2},
    {"LAK", 418, "Lao Kip", "₭", 2},
    {"LBP", 422, "Lebanese Pound", "ل.ل", 2},
    {"LKR", 144, "Sri Lankan Rupee", "Rs", 2},
    {"LRD", 430, "Liberian Dollar", "L$", 2},
    {"LSL", 426, "Lesotho Loti", "L", 2},
    {"LYD", 434, "Libyan Dinar", "LD", 3},
    {"MAD", 504, "Moroccan Dirham", "DH", 2},
    {"MDL", 498, "Moldovan Leu", "L", 2},
    {"MGA", 969, "Malagasy Ariary", "Ar", 2},
    {"MKD", 807, "Macedonian Denar", "ден", 2},
    {"MMK", 104, "Myanmar Kyat", "K", 2},
    {"MNT", 496, "Mongolian Tögrög", "₮", 2},
    {"MOP", 446, "Macanese Pataca", "MOP$", 2},
    {"MRU", 929, "Mauritanian Ouguiya", "UM", 2},
    {"MUR", 480, "Mauritian Rupee", "Rs", 2},
    {"MVR", 462, "Maldivian Rufiyaa", "Rf", 2},
    {"MWK", 454, "Malawian Kwacha", "MK", 2},
    {"MXN", 484, "Mexican Peso", "$", 2},
    {"MXV", 979, "Mexican Unidad de Inversión", "MXV", 2},
    {"MYR", 458, "Malaysian Ringgit", "RM", 2},
    {"MZN", 943, "Mozambican Metical", "MT", 2},
    {"NAD", 516, "Namibian Dollar", "N$", 2},
    {"NGN", 566, "Nigerian Naira", "₦", 2},
    {"NIO", 558, "Nicaraguan Córdoba", "C$", 2},
    {"NOK", 578, "Norwegian Krone", "kr", 2},
    {"NPR", 524, "Nepalese Rupee", "Rs", 2},
    {"NZD", 554, "New Zealand Dollar", "NZ$", 2},
    {"OMR", 512, "Omani Rial", "﷼", 3},
    {"PAB", 590, "Panamanian Balboa", "B/.", 2},
    {"PEN", 604, "Peruvian Sol", "S/", 2},
    {"PGK", 598, "Papua New Guinean Kina", "K", 2},
    {"PHP", 608, "Philippine Peso", "₱", 2},
    {"PKR", 586, "Pakistani Rupee", "Rs", 2},
    {"PLN", 985, "Polish Złoty", "zł", 2},
    {"PYG", 600, "Paraguayan Guaraní", "₲", 0},
    {"QAR", 634, "Qatari Riyal", "﷼", 2},
    {"RON", 946, "Romanian Leu", "lei", 2},
    {"RSD", 941, "Serbian Dinar", "дин.", 2},
    {"RUB", 643, "Russian Ruble", "₽", 2},
    {"RWF", 646, "Rwandan Franc", "FRw", 0},
    {"SAR", 682, "Saudi Riyal", "﷼", 2},
    {"SBD", 90, "Solomon Islands Dollar", "SI$", 2},
    {"SCR", 690, "Seychellois Rupee", "SR", 2},
    {"SDG", 938, "Sudanese Pound", "£SD", 2},
    {"SEK", 752, "Swedish Krona", "kr", 2},
    {"SGD", 702, "Singapore Dollar", "S$", 2},
    {"SHP", 654, "Saint Helena Pound", "£", 2},
    {"SLE", 925, "Sierra Leonean Leone", "Le", 2},
    {"SOS", 706, "Somali Shilling", "Sh", 2},
    {"SRD", 968, "Surinamese Dollar", "$", 2},
    {"SSP", 728, "South Sudanese Pound", "£", 2},
    {"STN", 930, "São Tomé and Príncipe Dobra", "Db", 2},
    {"SVC", 222, "Salvadoran Colón", "₡", 2},
    {"SYP", 760, "Syrian Pound", "£S", 2},
    {"SZL", 748, "Swazi Lilangeni", "E", 2},
    {"THB", 764, "Thai Baht", "฿", 2},
    {"TJS", 972, "Tajikistani Somoni", "SM", 2},
    {"TMT", 934, "Turkmenistan Manat", "m", 2},
    {"TND", 788, "Tunisian Dinar", "DT", 3},
    {"TOP", 776, "Tongan Paʻanga", "T$", 2},
    {"TRY", 949, "Turkish Lira", "₺", 2},
    {"TTD", 780, "Trinidad and Tobago Dollar", "TT$", 2},
    {"TWD", 901, "New Taiwan Dollar", "NT$", 2},
    {"TZS", 834, "Tanzanian Shilling", "TSh", 2},
    {"UAH", 980, "Ukrainian Hryvnia", "₴", 2},
    {"UGX", 800, "Ugandan Shilling", "USh", 0},
    {"USD", 840, "US Dollar", "$", 2},
    {"USN", 997, "US Dollar (Next day)", "$", 2},
    {"UYI", 940, "Uruguay Peso en Unidades Indexadas", "UYI", 0},
    {"UYU", 858, "Uruguayan Peso", "$U", 2},
    {"UYW", 927, "Uruguayan Unidad Previsional", "UP", 4},
    {"UZS", 860, "Uzbekistani Som", "soʻm", 2},
    {"VED", 926, "Venezuelan Digital Bolívar", "Bs.D", 2},
    {"VES", 928, "Venezuelan Sovereign Bolívar", "Bs.S", 2},
    {"VND", 704, "Vietnamese Dong", "₫", 0},
    {"VUV", 548, "Vanuatu Vatu", "VT", 0},
    {"WST", 882, "Samoan Tala", "WS$", 2},
    {"XAF", 950, "Central African CFA Franc", "FCFA", 0},
    {"XCD", 951, "East Caribbean Dollar", "EC$", 2},
    {"XCG", 532, "Caribbean Guilder", "Cg", 2},
    {"XOF", 952, "West African CFA Franc", "CFA", 0},
    {"XPF", 953, "CFP Franc", "₣", 0},
    {"YER", 886, "Yemeni Rial", "﷼", 2},
    {"ZAR", 710, "South African Rand", "R", 2},
    {"ZMW", 967, "Zambian Kwacha", "ZK", 2},
    {"ZWG", 924, "Zimbabwe Gold", "ZiG", 2},
};

#define TABLE_LEN (sizeof table / sizeof table[0])

const struct currency *currency_find(const char *code)
{
    char key[4];
    size_t lo = 0, hi = TABLE_LEN;

    if (code == NULL)
        return NULL;
    /* Exactly three ASCII letters, then the terminator; fold to upper case
     * without <ctype.h> so the result does not depend on the locale. */
    for (size_t i = 0; i < 3; i++) {
        char c = code[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!(c >= 'A' && c <= 'Z'))
            return NULL; /* also stops at a NUL in a shorter string */
        key[i] = c;
    }
    if (code[3] != '\0')
        return NULL;
    key[3] = '\0';

    /* Binary search over [lo, hi). */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(key, table[mid].code, 3);
        if (cmp == 0)
            return &table[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const struct currency *currency_find_numeric(int numeric)
{
    /* The table is sorted by code, not number: a linear scan of ~170 entries
     * is cheap and avoids keeping a second index in sync. */
    if (numeric <= 0)
        return NULL;
    for (size_t i = 0; i < TABLE_LEN; i++) {
        if (table[i].numeric == numeric)
            return &table[i];
    }
    return NULL;
}

const struct currency *currency_table(size_t *count)
{
    if (count != NULL)
        *count = TABLE_LEN;
    return table;
}

const struct currency *currency_find_upper(const char *code)
{
    if (code == NULL || strlen(code) != 3)
        return NULL;
    for (int i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return NULL;
    return currency_find(code);
}
