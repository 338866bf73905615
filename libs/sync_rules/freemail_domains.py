"""Domains of free personal mailbox providers ("freemail"), curated.

An address on one of these belongs to a person, not to a company, so it never says which account a
contact works for. The list covers the large global and regional providers; it is data, not logic, so
extending it is a one-line change. Compare against the A-label (ASCII) form of the domain.
"""

FREEMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # global
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "passport.com", "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com",
        "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "protonmail.ch", "pm.me",
        "tutanota.com", "tutanota.de", "tutamail.com", "tuta.io", "zoho.com", "zohomail.com",
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "mail.com", "email.com", "yandex.com",
        "yandex.ru", "ya.ru", "mail.ru", "inbox.ru", "list.ru", "bk.ru", "fastmail.com", "fastmail.fm",
        "hushmail.com", "mailfence.com", "posteo.de", "posteo.net", "runbox.com", "disroot.org",
        "hey.com", "duck.com",
        # regional Microsoft and Yahoo
        "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "hotmail.nl",
        "hotmail.be", "hotmail.ca", "hotmail.com.br", "hotmail.com.ar", "hotmail.com.mx",
        "live.co.uk", "live.fr", "live.de", "live.it", "live.nl", "live.be", "live.ca", "live.com.au",
        "live.com.mx", "outlook.fr", "outlook.de", "outlook.es", "outlook.it", "outlook.co.uk",
        "outlook.com.br", "windowslive.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it",
        "yahoo.es", "yahoo.ca", "yahoo.com.au", "yahoo.com.br", "yahoo.com.ar", "yahoo.com.mx",
        "yahoo.co.in", "yahoo.co.jp", "yahoo.com.sg", "yahoo.com.ph", "yahoo.co.id", "yahoo.gr",
        "yahoo.ie", "yahoo.se", "yahoo.dk", "yahoo.no", "yahoo.pl", "yahoo.com.tw", "yahoo.com.hk",
        # Europe
        "web.de", "t-online.de", "freenet.de", "arcor.de", "online.de", "mail.de", "orange.fr",
        "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "club-internet.fr", "libero.it",
        "virgilio.it", "tin.it", "alice.it", "tiscali.it", "email.it", "btinternet.com",
        "virginmedia.com", "sky.com", "talktalk.net", "blueyonder.co.uk", "ntlworld.com",
        "seznam.cz", "centrum.cz", "atlas.cz", "volny.cz", "wp.pl", "o2.pl", "onet.pl", "op.pl",
        "interia.pl", "poczta.onet.pl", "tlen.pl", "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl",
        "planet.nl", "home.nl", "bluewin.ch", "hispeed.ch", "aon.at", "chello.at", "telia.com",
        "bredband.net", "online.no", "abv.bg", "freemail.hu", "citromail.hu", "sapo.pt", "terra.es",
        "telefonica.net", "ukr.net", "rambler.ru",
        # Americas, Asia, Oceania
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
        "charter.net", "earthlink.net", "optonline.net", "juno.com", "netzero.net", "shaw.ca",
        "rogers.com", "sympatico.ca", "videotron.ca", "uol.com.br", "bol.com.br", "terra.com.br",
        "ig.com.br", "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com",
        "aliyun.com", "foxmail.com", "139.com", "naver.com", "daum.net", "hanmail.net", "nate.com",
        "rediffmail.com", "bigpond.com", "bigpond.net.au", "optusnet.com.au", "iinet.net.au",
        "xtra.co.nz", "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "nifty.com", "biglobe.ne.jp",
    }
)  # fmt: skip
