"""Shorter word lists (about 50 common words) for the other XLM-R languages.

Why: synthgen's language gate (synthgen.quality.langid) runs a real language identifier. Answers
in English words "for Indonesian" or Arabic letters "for Persian" were confidently detected as
the wrong language, so a fault-free scripted run lost about a sixth of its examples. Function
words and everyday nouns are what an n-gram identifier keys on, so these short lists suffice.
Multi-word entries are split on spaces, which is harmless for word salad.
"""

from __future__ import annotations

EXTRA_WORDS = {
    "Indonesian": """yang dan di ini itu dengan untuk dari dalam tidak akan pada juga saya ada
        bisa mereka kami kita orang tahun rumah anak hari waktu kerja besar baru sudah belum sangat
        lebih banyak harus karena tetapi atau jika kota negara air makan minum pergi datang
        melihat membaca menulis bekerja sekolah buku jalan pagi malam""",
    "Malay": """yang dan di ini itu dengan untuk dari dalam tidak akan pada juga saya ada boleh
        mereka kami kita orang tahun rumah anak hari masa kerja besar baru sudah belum sangat
        lebih banyak mesti kerana tetapi atau jika bandar negara air makan minum pergi datang
        melihat membaca menulis bekerja sekolah buku jalan pagi malam""",
    "Turkish": """ve bir bu da de için ile çok daha ne gibi ama olarak sonra kadar var yok ben
        sen o biz siz onlar her şey zaman gün yıl ev okul kitap su yol şehir ülke insan çocuk
        kadın adam iyi büyük küçük yeni eski güzel gelmek gitmek yapmak görmek bilmek istemek
        söylemek çalışmak okumak yazmak sabah akşam""",
    "Swedish": """och att det som en på är av för med till den inte har jag de om ett men var
        vi så kan från du sig eller nu hade skulle hur efter år dag tid hus stad land barn kvinna
        man vatten bok skola arbete stor liten ny gammal bra göra komma gå se veta vilja säga
        morgon kväll""",
    "Danish": """og at det som en på er af for med til den ikke har jeg de om et men var vi så
        kan fra du sig eller nu havde skulle hvordan efter år dag tid hus by land barn kvinde
        mand vand bog skole arbejde stor lille ny gammel god gøre komme gå se vide ville sige
        morgen aften""",
    "Norwegian": """og at det som en på er av for med til den ikke har jeg de om et men var vi
        så kan fra du seg eller nå hadde skulle hvordan etter år dag tid hus by land barn kvinne
        mann vann bok skole arbeid stor liten ny gammel god gjøre komme gå se vite ville si
        morgen kveld""",
    "Finnish": """ja on ei se että oli hän mutta kun tai niin myös kuin mitä jos nyt vain sitten
        vielä minä sinä me te he tämä tuo talo kaupunki maa lapsi nainen mies vesi kirja koulu
        työ päivä vuosi aika hyvä suuri pieni uusi vanha tehdä tulla mennä nähdä tietää haluta
        sanoa aamu ilta""",
    "Czech": """a v se na je že to s z do o jako ale by jsem jsou pro tak jeho její když už jen
        také nebo ani po od při mezi bez rok den čas dům město země dítě žena muž voda kniha
        škola práce velký malý nový starý dobrý dělat přijít jít vidět vědět chtít říci ráno
        večer""",
    "Slovak": """a v sa na je že to s z do o ako ale by som sú pre tak jeho jej keď už len
        tiež alebo ani po od pri medzi bez rok deň čas dom mesto krajina dieťa žena muž voda
        kniha škola práca veľký malý nový starý dobrý robiť prísť ísť vidieť vedieť chcieť
        povedať ráno večer""",
    "Romanian": """și în de la cu pe că nu un o este sunt pentru care din mai dar sau dacă
        când foarte acum după fără prin eu tu el ea noi voi ei an zi timp casă oraș țară copil
        femeie bărbat apă carte școală muncă mare mic nou vechi bun face veni merge vedea ști
        vrea spune dimineață seară""",
    "Hungarian": """a az és hogy nem is egy de van meg csak már ez mint még volt lesz vagy ha
        minden nagyon után előtt nélkül én te ő mi ti ők év nap idő ház város ország gyerek nő
        férfi víz könyv iskola munka nagy kicsi új régi jó csinál jön megy lát tud akar mond
        reggel este""",
    "Vietnamese": """và của là có không được trong cho một những người này với các đã để khi
        thì cũng như nhưng rất nhiều năm ngày thời gian nhà thành phố nước trẻ em phụ nữ đàn
        ông sách trường học công việc lớn nhỏ mới cũ tốt làm đến đi thấy biết muốn nói buổi
        sáng tối""",
    "Catalan": """el la els les de del i a en que per amb no un una és són com però més o si
        quan molt ara després sense entre jo tu ell ella nosaltres any dia temps casa ciutat
        país nen dona home aigua llibre escola treball gran petit nou vell bo fer venir anar
        veure saber voler dir matí vespre""",
    "Croatian": """i u na je se da za od s su ali kao što to ne bi sam već samo ili kad nakon
        prije bez između ja ti on ona mi vi oni godina dan vrijeme kuća grad zemlja dijete žena
        muškarac voda knjiga škola posao velik mali nov star dobar raditi doći ići vidjeti
        znati htjeti reći jutro večer""",
    "Serbian": """и у на је се да за од са су али као што то не би сам већ само или кад након
        пре без између ја ти он она ми ви они година дан време кућа град земља дете жена човек
        вода књига школа посао велики мали нов стари добар радити доћи ићи видети знати хтети
        рећи јутро вече""",
    "Slovenian": """in v na je se da za od s so ali kot ki to ne bi sem že samo tudi ko po pred
        brez med jaz ti on ona mi vi oni leto dan čas hiša mesto država otrok ženska moški voda
        knjiga šola delo velik majhen nov star dober delati priti iti videti vedeti hoteti reči
        jutro večer""",
    "Estonian": """ja on ei see et oli ta aga kui või nii ka mis nüüd ainult siis veel mina
        sina meie teie nemad too maja linn maa laps naine mees vesi raamat kool töö päev aasta
        aeg hea suur väike uus vana tegema tulema minema nägema teadma tahtma ütlema hommik
        õhtu""",
    "Latvian": """un ir ar uz no par ka bet kā arī vai ja tas tā es tu viņš viņa mēs jūs viņi
        gads diena laiks māja pilsēta valsts bērns sieviete vīrietis ūdens grāmata skola darbs
        liels mazs jauns vecs labs darīt nākt iet redzēt zināt gribēt teikt rīts vakars ļoti
        tikai vēl""",
    "Lithuanian": """ir yra su į iš apie kad bet kaip taip pat ar jei tai ta aš tu jis ji mes
        jūs jie metai diena laikas namas miestas šalis vaikas moteris vyras vanduo knyga
        mokykla darbas didelis mažas naujas senas geras daryti ateiti eiti matyti žinoti norėti
        sakyti rytas vakaras labai tik dar""",
    "Afrikaans": """die en van is in het nie om te dat met vir op was hy sy ek jy ons hulle
        maar ook of as na by sal kan moet baie nog net al jaar dag tyd huis stad land kind vrou
        man water boek skool werk groot klein nuwe oud goed doen kom gaan sien weet wil sê
        oggend aand""",
    "Albanian": """dhe të në e i një për me që nga është janë por si më edhe ose kur shumë tani
        pas pa midis unë ti ai ajo ne ju ata vit ditë kohë shtëpi qytet vend fëmijë grua burrë
        ujë libër shkollë punë madh vogël ri vjetër mirë bëj vij shkoj shoh di dua them
        mëngjes mbrëmje""",
    "Azerbaijani": """və bir bu da də üçün ilə çox daha nə kimi amma sonra qədər var yox mən
        sən o biz siz onlar hər şey zaman gün il ev məktəb kitab su yol şəhər ölkə insan uşaq
        qadın kişi yaxşı böyük kiçik yeni köhnə gəlmək getmək etmək görmək bilmək istəmək
        demək səhər axşam""",
    "Basque": """eta da ez bat du dira baina ere edo bezala gero orain oso asko gutxi ni zu
        hura gu zuek haiek urte egun denbora etxe hiri herri haur emakume gizon ur liburu eskola
        lan handi txiki berri zahar on egin etorri joan ikusi jakin nahi esan goiz arratsalde
        hemen han zer nor""",
    "Breton": """ha an ar eo e ez da gant evit war met pe bras bihan nevez kozh mat bloaz deiz
        amzer ti kêr bro bugel maouez den dour levr skol labour ober dont mont gwelout gouzout
        fellout lavarout mintin noz me te eñ hi ni c'hwi int""",
    "Esperanto": """la kaj de en estas al ke ne por kun mi vi li ŝi ni ili sed ankaŭ aŭ se
        kiam tre nun post sen inter jaro tago tempo domo urbo lando infano virino viro akvo libro
        lernejo laboro granda malgranda nova malnova bona fari veni iri vidi scii voli diri
        mateno vespero""",
    "Filipino": """ang ng sa na at mga ay ko siya ako ikaw kami tayo sila hindi oo para kung
        pero din rin lang may wala bahay lungsod bansa bata babae lalaki tubig aklat paaralan
        trabaho araw taon oras malaki maliit bago luma mabuti gumawa pumunta dumating makita
        malaman gusto sabihin umaga gabi""",
    "Galician": """o a os as de do da e en que non un unha é son para con por como pero máis ou
        se cando moito agora despois sen entre eu ti el ela nós ano día tempo casa cidade país
        neno muller home auga libro escola traballo grande pequeno novo vello bo facer vir ir
        ver saber querer dicir mañá noite""",
    "Hausa": """da a na ta ya su mu ku ni kai ita shi ba wannan wancan amma ko idan yanzu sosai
        gida gari ƙasa yaro mace namiji ruwa littafi makaranta aiki rana shekara lokaci babba
        ƙarami sabo tsoho mai kyau yi zo je gani sani so ce safe yamma abinci kuɗi mutane""",
    "Icelandic": """og að það sem er á í af fyrir með til ekki hef ég þeir um eitt en var við
        svo getur frá þú sig eða nú hafði myndi hvernig eftir ár dagur tími hús borg land barn
        kona maður vatn bók skóli vinna stór lítill nýr gamall góður gera koma fara sjá vita
        vilja segja morgunn kvöld""",
    "Irish": """agus an na is ar le do i go bhí tá sé sí mé tú muid siad ach nó má nuair anois
        tar éis gan idir bliain lá am teach cathair tír páiste bean fear uisce leabhar scoil
        obair mór beag nua sean maith déan téigh feic fios abair maidin tráthnóna""",
    "Javanese": """lan ing iku iki karo kanggo saka ora bakal uga aku kowe dheweke kita wong
        taun omah bocah dina wektu gawe gedhe anyar wis durung banget luwih akeh kudu amarga
        nanging utawa yen kutha negara banyu mangan ngombe lunga teka ndeleng maca nulis
        nyambut sekolah buku dalan esuk wengi""",
    "Kurdish": """û di de ji li bi ku ev ew ne jî yan heke dema gelek niha piştî bê navbera ez
        tu em hûn sal roj dem mal bajar welat zarok jin mêr av pirtûk dibistan kar mezin biçûk
        nû kevn baş kirin hatin çûn dîtin zanîn xwestin gotin sibe êvar""",
    "Latin": """et in est non ad cum quod ut sed qui quae esse sunt ab ex de per si enim etiam
        nec aut ego tu nos vos annus dies tempus domus urbs terra puer femina vir aqua liber
        schola opus magnus parvus novus vetus bonus facere venire ire videre scire velle dicere
        mane vesper""",
    "Malagasy": """ny sy dia amin ho an izy aho ianao isika izahay ireo tsy koa na raha rehefa
        tena ankehitriny taorian trano tanàna firenena zaza vehivavy lehilahy rano boky sekoly
        asa andro taona fotoana lehibe kely vaovao antitra tsara manao tonga mandeha mahita
        mahalala te milaza maraina hariva""",
    "Oromo": """fi kan ni keessa irraa waliin akka garuu yookaan yoo ammaa booda malee gidduu
        ani ati inni isheen nuti isin isaan waggaa guyyaa yeroo mana magaalaa biyya dubartii
        dhiira bishaan kitaaba barumsaa hojii guddaa xiqqaa haaraa moofaa gaarii hojjechuu
        dhufuu deemuu arguu beekuu barbaaduu jechuu ganama galgala""",
    "Scottish Gaelic": """agus an na is air le do ann gu bha tha e i mi thu sinn iad ach no ma
        nuair glè a-nis dèidh gun eadar bliadhna latha àm taigh baile dùthaich pàiste
        boireannach fear uisge leabhar sgoil obair mòr beag ùr sean math dèan thig falbh faic
        fios iarr abair madainn feasgar""",
    "Somali": """iyo oo ka ku u in waa ah ee la aan ay uu ma waxaan waxay laakiin ama haddii
        marka aad hadda kadib dhexdooda aniga adiga isaga iyada annaga idinka iyaga sanad
        maalin waqti guri magaalo dal ilmo haweeney nin biyo buug dugsi shaqo weyn yar cusub
        duug wanaagsan samee imow tag arag ogow doon dheh subax fiid""",
    "Sundanese": """jeung di nu ieu éta kalawan pikeun ti dina henteu bakal ogé abdi anjeun
        manéhna urang jalma taun imah budak poé waktu damel ageung énggal parantos teu acan
        pisan langkung seueur kedah sabab tapi atawa upami kota nagara cai tuang nginum indit
        sumping ningali maca nyerat sakola buku jalan isuk peuting""",
    "Swahili": """na ya wa kwa ni katika za la cha hii hiyo kama lakini au ikiwa sana sasa
        baada bila kati mimi wewe yeye sisi ninyi wao mwaka siku wakati nyumba mji nchi mtoto
        mwanamke mwanamume maji kitabu shule kazi kubwa ndogo mpya zamani nzuri fanya kuja
        kwenda kuona kujua kutaka kusema asubuhi jioni""",
    "Uzbek": """va bir bu ham uchun bilan juda yana nima kabi lekin keyin qadar bor yo'q men
        sen u biz siz ular har narsa vaqt kun yil uy maktab kitob suv yo'l shahar mamlakat odam
        bola ayol erkak yaxshi katta kichik yangi eski kelmoq bormoq qilmoq ko'rmoq bilmoq
        xohlamoq aytmoq ertalab kechqurun""",
    "Welsh": """a ac y yr yn i o ar gan mae roedd fy dy ei ein eich eu ond neu os pan iawn nawr
        ôl heb rhwng fi ti fe hi ni chi nhw blwyddyn diwrnod amser tŷ dinas gwlad plentyn menyw
        dyn dŵr llyfr ysgol gwaith mawr bach newydd hen da gwneud dod mynd gweld gwybod eisiau
        dweud bore noswaith""",
    "Western Frisian": """de it en fan yn is dat op te wêze mei foar net oan der dy mar om ek
        as dan by noch út wat nei troch oer ta wol gjin sa al wie wurdt hawwe hat kin moat sil
        jier dei tiid hûs stêd lân bern frou man wetter boek skoalle wurk grut lyts nij âld
        goed meitsje komme gean sjen witte wolle sizze moarn jûn""",
    "Xhosa": """kwaye ukuba ngoko nje kodwa okanye xa kakhulu ngoku emva ngaphandle phakathi
        mna wena yena thina nina bona unyaka usuku ixesha indlu isixeko ilizwe umntwana umfazi
        indoda amanzi incwadi isikolo umsebenzi enkulu encinci entsha endala elungileyo enza
        yiza hamba yazi funa thetha kusasa ngokuhlwa abantu""",
    "Ukrainian": """і в не на що він вона вони ми ви як але це та з до від для про також або
        якщо коли дуже зараз після без між рік день час будинок місто країна дитина жінка
        чоловік вода книга школа робота великий малий новий старий добрий робити прийти йти
        бачити знати хотіти сказати ранок вечір""",
    "Belarusian": """і ў не на што ён яна яны мы вы як але гэта з да ад для пра таксама або
        калі вельмі зараз пасля без паміж год дзень час дом горад краіна дзіця жанчына мужчына
        вада кніга школа праца вялікі малы новы стары добры рабіць прыйсці ісці бачыць ведаць
        хацець сказаць раніца вечар""",
    "Bulgarian": """и в не на че той тя те ние вие как но това с до от за също или ако когато
        много сега след без между година ден време къща град страна дете жена мъж вода книга
        училище работа голям малък нов стар добър правя дойда отивам виждам зная искам кажа
        сутрин вечер""",
    "Macedonian": """и во не на дека тој таа тие ние вие како но ова со до од за исто или ако
        кога многу сега по без меѓу година ден време куќа град земја дете жена маж вода книга
        училиште работа голем мал нов стар добар прави дојде оди гледа знае сака каже утро
        вечер""",
    "Kazakh": """және мен бұл сол ол біз сіз олар үшін туралы бірақ немесе егер қашан өте
        қазір кейін жоқ бар жыл күн уақыт үй қала ел бала әйел ер су кітап мектеп жұмыс үлкен
        кіші жаңа ескі жақсы жасау келу бару көру білу қалау айту таң кеш""",
    "Kyrgyz": """жана менен бул ошол ал биз сиз алар үчүн жөнүндө бирок же эгер качан абдан
        азыр кийин жок бар жыл күн убакыт үй шаар өлкө бала аял эркек суу китеп мектеп иш чоң
        кичине жаңы эски жакшы жасоо келүү баруу көрүү билүү каалоо айтуу эртең кеч""",
    "Mongolian": """ба нь энэ тэр бид та тэд хүн байна байсан болно гэж гэхдээ эсвэл хэрэв маш
        одоо дараа үгүй жил өдөр цаг гэр хот улс хүүхэд эмэгтэй эрэгтэй ус ном сургууль ажил
        том жижиг шинэ хуучин сайн хийх ирэх явах харах мэдэх хүсэх хэлэх өглөө орой""",
    "Arabic": """في من على إلى أن هذا هذه التي الذي كان مع عن لا ما هو هي نحن أنتم هم لكن أو
        إذا عندما جدا الآن بعد بدون بين سنة يوم وقت بيت مدينة بلد طفل امرأة رجل ماء كتاب مدرسة
        عمل كبير صغير جديد قديم جيد يفعل يأتي يذهب يرى يعرف يريد يقول صباح مساء""",
    "Persian": """و در به از که این آن را با برای است بود هم یا اگر وقتی خیلی حالا بعد بدون
        بین من تو او ما شما آنها سال روز زمان خانه شهر کشور کودک زن مرد آب کتاب مدرسه کار
        بزرگ کوچک نو کهنه خوب کردن آمدن رفتن دیدن دانستن خواستن گفتن صبح شب""",
    "Urdu": """اور میں کے کی کا ہے ہیں سے کو پر یہ وہ نہیں بھی کہ تھا تھی ہم تم آپ لیکن یا اگر
        جب بہت اب بعد بغیر درمیان سال دن وقت گھر شہر ملک بچہ عورت آدمی پانی کتاب سکول کام بڑا
        چھوٹا نیا پرانا اچھا کرنا آنا جانا دیکھنا جاننا چاہنا کہنا صبح شام""",
    "Pashto": """او په د له ته دا هغه چې سره لپاره دی وو هم یا که کله ډېر اوس وروسته پرته
        ترمنځ زه موږ تاسو دوی کال ورځ وخت کور ښار هېواد ماشوم ښځه سړی اوبه کتاب ښوونځی کار
        لوی کوچنی نوی زوړ ښه کول راتلل تلل لیدل پوهېدل غوښتل ویل سهار ماښام""",
    "Sindhi": """۽ ۾ جو جي کي سان تي هي هو اهو نه به ته هئي اسين توهان اهي پر يا جيڪڏهن جڏهن
        تمام هاڻي پوءِ بنا وچ سال ڏينهن وقت گهر شهر ملڪ ٻار عورت مرد پاڻي ڪتاب اسڪول ڪم وڏو
        ننڍو نئون پراڻو سٺو ڪرڻ اچڻ وڃڻ ڏسڻ ڄاڻڻ چوڻ صبح شام""",
    "Uyghur": """ۋە بىلەن بۇ ئۇ بىز سىز ئۇلار ئۈچۈن ھەققىدە لېكىن ياكى ئەگەر قاچان ناھايىتى
        ھازىر كېيىن يوق بار يىل كۈن ۋاقىت ئۆي شەھەر دۆلەت بالا ئايال ئەر سۇ كىتاب مەكتەپ
        خىزمەت چوڭ كىچىك يېڭى كونا ياخشى قىلماق كەلمەك بارماق كۆرمەك بىلمەك خالىماق دېمەك
        ئەتىگەن كەچ""",
    "Hindi": """और का की के में है हैं से को पर यह वह नहीं भी कि था थी हम तुम आप लेकिन या अगर
        जब बहुत अब बाद बिना बीच साल दिन समय घर शहर देश बच्चा औरत आदमी पानी किताब स्कूल काम
        बड़ा छोटा नया पुराना अच्छा करना आना जाना देखना जानना चाहना कहना सुबह शाम""",
    "Marathi": """आणि आहे की हे ते मी तू तो ती आम्ही तुम्ही या त्या मध्ये साठी पण किंवा जर
        जेव्हा खूप आता नंतर शिवाय वर्ष दिवस वेळ घर शहर देश मूल स्त्री पुरुष पाणी पुस्तक
        शाळा काम मोठा लहान नवीन जुना चांगला करणे येणे जाणे पाहणे जाणणे हवे सांगणे सकाळ
        संध्याकाळ होते नाही""",
    "Nepali": """र छ को का की मा ले यो त्यो म तिमी उ हामी तपाईं उनीहरू तर वा यदि जब धेरै अहिले
        पछि बिना बीच वर्ष दिन समय घर सहर देश बच्चा महिला पुरुष पानी किताब विद्यालय काम ठूलो
        सानो नयाँ पुरानो राम्रो गर्नु आउनु जानु हेर्नु जान्नु चाहनु भन्नु बिहान बेलुका हो
        थियो छैन""",
    "Sanskrit": """च अस्ति सः सा तत् अहम् त्वम् वयम् यूयम् ते किन्तु वा यदि यदा अतीव अधुना
        पश्चात् विना मध्ये वर्षम् दिनम् कालः गृहम् नगरम् देशः बालकः स्त्री पुरुषः जलम् पुस्तकम्
        विद्यालयः कार्यम् महत् लघु नवम् पुरातनम् साधु करोति आगच्छति गच्छति पश्यति जानाति
        इच्छति वदति प्रातः सायम् न एव अपि""",
    "Bengali": """এবং এই সেই আমি তুমি সে আমরা তোমরা তারা কিন্তু বা যদি যখন খুব এখন পরে ছাড়া
        মধ্যে বছর দিন সময় বাড়ি শহর দেশ শিশু মহিলা পুরুষ জল বই বিদ্যালয় কাজ বড় ছোট নতুন
        পুরানো ভালো করা আসা যাওয়া দেখা জানা চাওয়া বলা সকাল সন্ধ্যা না হয় ছিল আছে""",
    "Assamese": """আৰু এই সেই মই তুমি তেওঁ আমি তোমালোক সিহঁত কিন্তু বা যদি যেতিয়া বহুত
        এতিয়া পিছত অবিহনে মাজত বছৰ দিন সময় ঘৰ চহৰ দেশ শিশু মহিলা পুৰুষ পানী কিতাপ
        বিদ্যালয় কাম ডাঙৰ সৰু নতুন পুৰণি ভাল কৰা অহা যোৱা দেখা জনা বিচৰা কোৱা পুৱা সন্ধিয়া
        নহয় আছে""",
}
