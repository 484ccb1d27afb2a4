"""Hand-written passages (about 100 words each) for measuring language identification.

One short news-style passage per language, written for this benchmark (not copied from any
corpus). The benchmark cuts them into 5-word, 15-word, one-sentence and whole-passage samples.
Keys are taxonomy language names (synthgen/taxonomy.py).
"""

PASSAGES: dict[str, str] = {
    "English": (
        "The small town library opened a new reading room last spring. Every morning, retired "
        "teachers and young students gather around the long wooden tables to read newspapers, "
        "borrow novels and use the free computers. The librarian, who has worked there for almost "
        "thirty years, says that the number of visitors has doubled since the renovation. On "
        "Saturdays the children's corner hosts story hours, and in the evenings volunteers teach "
        "older residents how to send emails and make video calls to their grandchildren. The town "
        "council plans to extend the opening hours next year if the budget allows it, because "
        "demand keeps growing."
    ),
    "German": (
        "Die kleine Stadtbibliothek hat im letzten Frühling einen neuen Lesesaal eröffnet. Jeden "
        "Morgen versammeln sich pensionierte Lehrer und junge Studenten an den langen Holztischen, "
        "um Zeitungen zu lesen, Romane auszuleihen und die kostenlosen Computer zu benutzen. Die "
        "Bibliothekarin, die dort seit fast dreißig Jahren arbeitet, sagt, dass sich die Zahl der "
        "Besucher seit der Renovierung verdoppelt hat. Samstags finden in der Kinderecke "
        "Vorlesestunden statt, und abends zeigen Freiwillige älteren Bewohnern, wie man E-Mails "
        "schreibt und mit den Enkelkindern per Video telefoniert. Der Gemeinderat möchte die "
        "Öffnungszeiten im nächsten Jahr verlängern, wenn das Budget es erlaubt, denn die Nachfrage "
        "wächst weiter."
    ),
    "French": (
        "La petite bibliothèque municipale a ouvert une nouvelle salle de lecture au printemps "
        "dernier. Chaque matin, des enseignants retraités et de jeunes étudiants se retrouvent "
        "autour des longues tables en bois pour lire les journaux, emprunter des romans et utiliser "
        "les ordinateurs gratuits. La bibliothécaire, qui y travaille depuis près de trente ans, "
        "affirme que le nombre de visiteurs a doublé depuis la rénovation. Le samedi, le coin des "
        "enfants accueille des heures du conte, et le soir, des bénévoles apprennent aux habitants "
        "âgés à envoyer des courriels et à appeler leurs petits-enfants en vidéo. Le conseil "
        "municipal prévoit d'élargir les horaires d'ouverture l'année prochaine si le budget le "
        "permet, car la demande ne cesse d'augmenter."
    ),
    "Spanish": (
        "La pequeña biblioteca municipal abrió una nueva sala de lectura la primavera pasada. Cada "
        "mañana, maestros jubilados y jóvenes estudiantes se reúnen alrededor de las largas mesas "
        "de madera para leer periódicos, pedir prestadas novelas y usar las computadoras gratuitas. "
        "La bibliotecaria, que trabaja allí desde hace casi treinta años, dice que el número de "
        "visitantes se ha duplicado desde la renovación. Los sábados, el rincón infantil organiza "
        "horas de cuentos, y por las tardes los voluntarios enseñan a los vecinos mayores a enviar "
        "correos electrónicos y hacer videollamadas con sus nietos. El ayuntamiento piensa ampliar "
        "el horario de apertura el próximo año si el presupuesto lo permite, porque la demanda "
        "sigue creciendo."
    ),
    "Italian": (
        "La piccola biblioteca comunale ha aperto una nuova sala di lettura la scorsa primavera. "
        "Ogni mattina, insegnanti in pensione e giovani studenti si riuniscono intorno ai lunghi "
        "tavoli di legno per leggere i giornali, prendere in prestito romanzi e usare i computer "
        "gratuiti. La bibliotecaria, che lavora lì da quasi trent'anni, dice che il numero dei "
        "visitatori è raddoppiato dopo la ristrutturazione. Il sabato, l'angolo dei bambini ospita "
        "le ore del racconto, e la sera alcuni volontari insegnano ai residenti più anziani come "
        "inviare email e fare videochiamate con i nipoti. Il consiglio comunale prevede di "
        "estendere l'orario di apertura il prossimo anno, se il bilancio lo consente, perché la "
        "domanda continua a crescere."
    ),
    "Portuguese": (
        "A pequena biblioteca municipal abriu uma nova sala de leitura na primavera passada. Todas "
        "as manhãs, professores aposentados e jovens estudantes reúnem-se em volta das longas mesas "
        "de madeira para ler jornais, pedir romances emprestados e usar os computadores gratuitos. "
        "A bibliotecária, que trabalha lá há quase trinta anos, diz que o número de visitantes "
        "duplicou desde a reforma. Aos sábados, o cantinho das crianças organiza horas do conto, e "
        "à noite voluntários ensinam os moradores mais velhos a enviar e-mails e a fazer "
        "videochamadas com os netos. A câmara municipal pretende alargar o horário de "
        "funcionamento no próximo ano, se o orçamento o permitir, porque a procura não para de "
        "crescer."
    ),
    "Dutch": (
        "De kleine stadsbibliotheek heeft afgelopen voorjaar een nieuwe leeszaal geopend. Elke "
        "ochtend verzamelen gepensioneerde leraren en jonge studenten zich rond de lange houten "
        "tafels om kranten te lezen, romans te lenen en de gratis computers te gebruiken. De "
        "bibliothecaresse, die er al bijna dertig jaar werkt, zegt dat het aantal bezoekers sinds "
        "de verbouwing is verdubbeld. Op zaterdag worden in de kinderhoek voorleesuurtjes gehouden, "
        "en 's avonds leren vrijwilligers oudere bewoners hoe ze e-mails kunnen sturen en met hun "
        "kleinkinderen kunnen videobellen. De gemeenteraad wil volgend jaar de openingstijden "
        "verlengen als het budget het toelaat, want de vraag blijft groeien."
    ),
    "Polish": (
        "Mała biblioteka miejska otworzyła zeszłej wiosny nową czytelnię. Każdego ranka "
        "emerytowani nauczyciele i młodzi studenci gromadzą się przy długich drewnianych stołach, "
        "aby czytać gazety, wypożyczać powieści i korzystać z bezpłatnych komputerów. "
        "Bibliotekarka, która pracuje tam od prawie trzydziestu lat, mówi, że liczba odwiedzających "
        "podwoiła się od czasu remontu. W soboty w kąciku dziecięcym odbywają się godziny bajek, a "
        "wieczorami wolontariusze uczą starszych mieszkańców, jak wysyłać e-maile i rozmawiać z "
        "wnukami przez wideo. Rada miasta planuje w przyszłym roku wydłużyć godziny otwarcia, "
        "jeśli pozwoli na to budżet, ponieważ zapotrzebowanie ciągle rośnie."
    ),
    "Russian": (
        "Маленькая городская библиотека прошлой весной открыла новый читальный зал. Каждое утро "
        "учителя на пенсии и молодые студенты собираются за длинными деревянными столами, чтобы "
        "читать газеты, брать романы и пользоваться бесплатными компьютерами. Библиотекарь, "
        "которая работает там почти тридцать лет, говорит, что после ремонта число посетителей "
        "удвоилось. По субботам в детском уголке проходят часы сказок, а по вечерам волонтёры учат "
        "пожилых жителей отправлять электронные письма и звонить внукам по видеосвязи. Городской "
        "совет планирует в следующем году продлить часы работы, если позволит бюджет, потому что "
        "спрос продолжает расти."
    ),
    "Ukrainian": (
        "Маленька міська бібліотека минулої весни відкрила нову читальну залу. Щоранку вчителі на "
        "пенсії та молоді студенти збираються за довгими дерев'яними столами, щоб читати газети, "
        "позичати романи та користуватися безкоштовними комп'ютерами. Бібліотекарка, яка працює "
        "там майже тридцять років, каже, що після ремонту кількість відвідувачів подвоїлася. "
        "Щосуботи в дитячому куточку проходять години казок, а ввечері волонтери вчать літніх "
        "мешканців надсилати електронні листи та телефонувати онукам по відеозв'язку. Міська рада "
        "планує наступного року подовжити години роботи, якщо дозволить бюджет, бо попит постійно "
        "зростає."
    ),
    "Indonesian": (
        "Perpustakaan kota yang kecil itu membuka ruang baca baru pada musim semi lalu. Setiap "
        "pagi, para guru pensiunan dan mahasiswa muda berkumpul di sekitar meja kayu panjang untuk "
        "membaca koran, meminjam novel, dan menggunakan komputer gratis. Pustakawan yang sudah "
        "bekerja di sana hampir tiga puluh tahun mengatakan bahwa jumlah pengunjung meningkat dua "
        "kali lipat sejak renovasi. Setiap hari Sabtu, pojok anak-anak mengadakan jam mendongeng, "
        "dan pada malam hari para relawan mengajari warga lanjut usia cara mengirim surel dan "
        "melakukan panggilan video dengan cucu mereka. Dewan kota berencana memperpanjang jam buka "
        "tahun depan jika anggarannya mencukupi, karena permintaan terus bertambah."
    ),
    "Malay": (
        "Perpustakaan bandar yang kecil itu telah membuka bilik bacaan baharu pada musim bunga "
        "lalu. Setiap pagi, guru-guru pesara dan pelajar muda berkumpul di sekeliling meja kayu "
        "yang panjang untuk membaca akhbar, meminjam novel dan menggunakan komputer percuma. "
        "Pustakawan yang telah bekerja di situ hampir tiga puluh tahun berkata bahawa bilangan "
        "pengunjung telah meningkat dua kali ganda sejak pengubahsuaian. Pada hari Sabtu, sudut "
        "kanak-kanak mengadakan sesi bercerita, dan pada waktu malam sukarelawan mengajar penduduk "
        "warga emas cara menghantar e-mel dan membuat panggilan video dengan cucu mereka. Majlis "
        "bandaran merancang untuk memanjangkan waktu operasi tahun hadapan jika bajet membenarkan, "
        "kerana permintaan terus meningkat."
    ),
    "Persian": (
        "کتابخانه کوچک شهر بهار گذشته یک سالن مطالعه جدید افتتاح کرد. هر روز صبح معلمان بازنشسته "
        "و دانشجویان جوان دور میزهای چوبی بلند جمع می‌شوند تا روزنامه بخوانند، رمان امانت بگیرند "
        "و از رایانه‌های رایگان استفاده کنند. کتابدار که نزدیک به سی سال است در آنجا کار می‌کند "
        "می‌گوید تعداد بازدیدکنندگان پس از بازسازی دو برابر شده است. شنبه‌ها در گوشه کودکان ساعت "
        "قصه‌گویی برگزار می‌شود و عصرها داوطلبان به ساکنان سالمند یاد می‌دهند چگونه ایمیل بفرستند "
        "و با نوه‌هایشان تماس تصویری بگیرند. شورای شهر قصد دارد اگر بودجه اجازه دهد، سال آینده "
        "ساعات کار را افزایش دهد، زیرا تقاضا همچنان رو به رشد است."
    ),
    "Arabic": (
        "افتتحت مكتبة البلدة الصغيرة قاعة مطالعة جديدة في الربيع الماضي. كل صباح يجتمع المعلمون "
        "المتقاعدون والطلاب الشباب حول الطاولات الخشبية الطويلة لقراءة الصحف واستعارة الروايات "
        "واستخدام الحواسيب المجانية. تقول أمينة المكتبة، التي تعمل هناك منذ ما يقرب من ثلاثين "
        "عاما، إن عدد الزوار تضاعف منذ التجديد. في أيام السبت يستضيف ركن الأطفال ساعات لرواية "
        "القصص، وفي المساء يعلم المتطوعون السكان المسنين كيفية إرسال الرسائل الإلكترونية وإجراء "
        "مكالمات الفيديو مع أحفادهم. ويخطط مجلس البلدية لتمديد ساعات العمل في العام المقبل إذا "
        "سمحت الميزانية بذلك، لأن الطلب مستمر في الازدياد."
    ),
    "Japanese": (
        "町の小さな図書館は、昨年の春に新しい閲覧室を開設しました。毎朝、退職した教師や若い学生たちが"
        "長い木のテーブルの周りに集まり、新聞を読んだり、小説を借りたり、無料のパソコンを使ったりして"
        "います。三十年近くそこで働いている司書によると、改装以来、来館者の数は二倍になったそうです。"
        "土曜日には子どもコーナーで読み聞かせの時間があり、夕方にはボランティアが高齢の住民にメールの"
        "送り方や孫とのビデオ通話の仕方を教えています。町議会は、予算が許せば来年開館時間を延長する"
        "予定です。需要が増え続けているからです。"
    ),
    "Chinese": (
        "这座小镇的图书馆去年春天开设了一个新的阅览室。每天早上，退休教师和年轻学生聚集在长长的木桌"
        "旁，读报纸、借小说、使用免费的电脑。在那里工作了将近三十年的图书管理员说，自从翻修以来，访客"
        "人数翻了一番。每到星期六，儿童角都会举办故事时间；到了晚上，志愿者教年长的居民如何发送电子"
        "邮件，以及如何和孙子孙女进行视频通话。镇议会计划在预算允许的情况下明年延长开放时间，因为需求"
        "一直在增长。"
    ),
    "Korean": (
        "작은 마을 도서관은 지난봄에 새로운 열람실을 열었습니다. 매일 아침 은퇴한 교사들과 젊은 "
        "학생들이 긴 나무 탁자 주위에 모여 신문을 읽고, 소설을 빌리고, 무료 컴퓨터를 사용합니다. "
        "그곳에서 거의 삼십 년 동안 일해 온 사서는 리모델링 이후 방문객 수가 두 배로 늘었다고 "
        "말합니다. 토요일마다 어린이 코너에서는 동화 구연 시간이 열리고, 저녁에는 자원봉사자들이 "
        "나이 든 주민들에게 이메일을 보내는 방법과 손주들과 영상 통화를 하는 방법을 가르칩니다. "
        "시의회는 예산이 허락한다면 내년에 운영 시간을 연장할 계획인데, 수요가 계속 늘고 있기 "
        "때문입니다."
    ),
    "Turkish": (
        "Küçük kasaba kütüphanesi geçen bahar yeni bir okuma salonu açtı. Her sabah emekli "
        "öğretmenler ve genç öğrenciler gazete okumak, roman ödünç almak ve ücretsiz bilgisayarları "
        "kullanmak için uzun ahşap masaların etrafında toplanıyor. Neredeyse otuz yıldır orada "
        "çalışan kütüphaneci, yenilemeden bu yana ziyaretçi sayısının iki katına çıktığını "
        "söylüyor. Cumartesi günleri çocuk köşesinde masal saatleri düzenleniyor, akşamları ise "
        "gönüllüler yaşlı sakinlere e-posta göndermeyi ve torunlarıyla görüntülü konuşmayı "
        "öğretiyor. Belediye meclisi, bütçe izin verirse önümüzdeki yıl çalışma saatlerini "
        "uzatmayı planlıyor, çünkü talep artmaya devam ediyor."
    ),
    "Vietnamese": (
        "Thư viện nhỏ của thị trấn đã mở một phòng đọc mới vào mùa xuân năm ngoái. Mỗi buổi sáng, "
        "các giáo viên đã nghỉ hưu và những sinh viên trẻ tụ tập quanh những chiếc bàn gỗ dài để "
        "đọc báo, mượn tiểu thuyết và sử dụng máy tính miễn phí. Người thủ thư, người đã làm việc ở "
        "đó gần ba mươi năm, nói rằng số lượng khách đến thăm đã tăng gấp đôi kể từ khi cải tạo. "
        "Vào các ngày thứ Bảy, góc thiếu nhi tổ chức giờ kể chuyện, và vào buổi tối, các tình "
        "nguyện viên dạy những cư dân lớn tuổi cách gửi thư điện tử và gọi video cho cháu của họ. "
        "Hội đồng thị trấn dự định kéo dài giờ mở cửa vào năm tới nếu ngân sách cho phép, vì nhu "
        "cầu vẫn tiếp tục tăng."
    ),
    "Swedish": (
        "Det lilla stadsbiblioteket öppnade en ny läsesal i våras. Varje morgon samlas "
        "pensionerade lärare och unga studenter kring de långa träborden för att läsa tidningar, "
        "låna romaner och använda de kostnadsfria datorerna. Bibliotekarien, som har arbetat där i "
        "nästan trettio år, säger att antalet besökare har fördubblats sedan renoveringen. På "
        "lördagar ordnas sagostunder i barnhörnan, och på kvällarna lär frivilliga äldre invånare "
        "att skicka e-post och videosamtala med sina barnbarn. Kommunfullmäktige planerar att "
        "förlänga öppettiderna nästa år om budgeten tillåter det, eftersom efterfrågan fortsätter "
        "att öka."
    ),
    "Norwegian": (
        "Det lille bybiblioteket åpnet en ny lesesal i fjor vår. Hver morgen samles pensjonerte "
        "lærere og unge studenter rundt de lange trebordene for å lese aviser, låne romaner og "
        "bruke de gratis datamaskinene. Bibliotekaren, som har jobbet der i nesten tretti år, sier "
        "at antallet besøkende har doblet seg siden oppussingen. På lørdager arrangeres det "
        "eventyrstunder i barnehjørnet, og om kveldene lærer frivillige eldre innbyggere å sende "
        "e-post og ringe barnebarna sine på video. Bystyret planlegger å utvide åpningstidene neste "
        "år dersom budsjettet tillater det, fordi etterspørselen fortsetter å øke."
    ),
    "Czech": (
        "Malá městská knihovna loni na jaře otevřela novou čítárnu. Každé ráno se u dlouhých "
        "dřevěných stolů scházejí učitelé v důchodu a mladí studenti, aby četli noviny, půjčovali "
        "si romány a používali bezplatné počítače. Knihovnice, která tam pracuje téměř třicet let, "
        "říká, že od rekonstrukce se počet návštěvníků zdvojnásobil. V sobotu se v dětském koutku "
        "konají čtení pohádek a večer dobrovolníci učí starší obyvatele, jak posílat e-maily a "
        "volat s vnoučaty přes video. Zastupitelstvo plánuje příští rok prodloužit otevírací dobu, "
        "pokud to rozpočet dovolí, protože poptávka stále roste."
    ),
    "Croatian": (
        "Mala gradska knjižnica prošlog je proljeća otvorila novu čitaonicu. Svakog jutra "
        "umirovljeni učitelji i mladi studenti okupljaju se oko dugih drvenih stolova kako bi "
        "čitali novine, posuđivali romane i koristili besplatna računala. Knjižničarka, koja ondje "
        "radi gotovo trideset godina, kaže da se broj posjetitelja udvostručio od obnove. Subotom "
        "se u dječjem kutku održavaju sati pričanja priča, a navečer volonteri uče starije "
        "stanovnike kako slati e-poštu i videopozivom razgovarati s unucima. Gradsko vijeće planira "
        "sljedeće godine produljiti radno vrijeme ako proračun to dopusti, jer potražnja i dalje "
        "raste."
    ),
    "Hindi": (
        "शहर के छोटे पुस्तकालय ने पिछले वसंत में एक नया वाचनालय खोला। हर सुबह सेवानिवृत्त शिक्षक "
        "और युवा छात्र लंबी लकड़ी की मेज़ों के चारों ओर इकट्ठा होते हैं, ताकि अख़बार पढ़ सकें, "
        "उपन्यास उधार ले सकें और मुफ़्त कंप्यूटरों का उपयोग कर सकें। लगभग तीस साल से वहाँ काम कर "
        "रही पुस्तकालयाध्यक्ष का कहना है कि मरम्मत के बाद से आगंतुकों की संख्या दोगुनी हो गई है। "
        "शनिवार को बच्चों के कोने में कहानी सुनाने का समय होता है, और शाम को स्वयंसेवक बुज़ुर्ग "
        "निवासियों को ईमेल भेजना और अपने पोते-पोतियों से वीडियो कॉल करना सिखाते हैं। नगर परिषद "
        "अगले साल बजट की अनुमति मिलने पर खुलने का समय बढ़ाने की योजना बना रही है, क्योंकि माँग "
        "लगातार बढ़ रही है।"
    ),
    "Welsh": (
        "Agorodd llyfrgell fach y dref ystafell ddarllen newydd y gwanwyn diwethaf. Bob bore, mae "
        "athrawon wedi ymddeol a myfyrwyr ifanc yn ymgasglu o amgylch y byrddau pren hir i "
        "ddarllen papurau newydd, benthyg nofelau a defnyddio'r cyfrifiaduron am ddim. Dywed y "
        "llyfrgellydd, sydd wedi gweithio yno ers bron i ddeng mlynedd ar hugain, fod nifer yr "
        "ymwelwyr wedi dyblu ers yr adnewyddu. Ar ddydd Sadwrn, cynhelir amser stori yng nghornel y "
        "plant, a gyda'r nos mae gwirfoddolwyr yn dysgu trigolion hŷn sut i anfon e-byst a gwneud "
        "galwadau fideo gyda'u hwyrion. Mae cyngor y dref yn bwriadu ymestyn yr oriau agor y "
        "flwyddyn nesaf os bydd y gyllideb yn caniatáu, gan fod y galw yn parhau i dyfu."
    ),
}
